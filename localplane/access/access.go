// Package access is the local control plane's access file: the endpoint `ecs-agent
// --local` serves its ECS API on, the region, and the key pair the plane accepts. The
// agent generates the key pair once per installation and keeps it in a root-only file
// (mode 0600, directory 0700); ecsctl reads the file to sign its calls, and
// `ecsctl local env` turns it into the AWS CLI's environment. Whoever can read the file
// can run tasks on the machine, privileged ones included, so only root may.
package access

import (
	"bytes"
	"crypto/rand"
	"encoding/base32"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"

	"github.com/go-logr/logr"

	"github.com/ecsd/ecsd/internal/secretfile"
)

// ErrInvalid: the file's content is not a usable access file.
var ErrInvalid = errors.New("invalid local control plane access file")

// File is the access file's content.
type File struct {
	// Endpoint is the ECS API's URL as bound, e.g. http://127.0.0.1:51690.
	Endpoint string `json:"endpoint"`
	// Region is the plane's region (its ARNs'); signatures for any region are accepted.
	Region          string `json:"region"`
	AccessKeyID     string `json:"accessKeyId"`
	SecretAccessKey string `json:"secretAccessKey"`
}

// validate checks that every member is set and the endpoint is an http(s) URL.
func (f File) validate() error {
	switch {
	case f.AccessKeyID == "" || f.SecretAccessKey == "":
		return fmt.Errorf("%w: no key pair", ErrInvalid)
	case f.Region == "":
		return fmt.Errorf("%w: no region", ErrInvalid)
	}
	u, err := url.Parse(f.Endpoint)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return fmt.Errorf("%w: endpoint %q is not an http(s) URL", ErrInvalid, f.Endpoint)
	}
	return nil
}

// parse decodes and validates a file's content; unknown members are refused, so a file
// of another kind is not mistaken for one.
func parse(data []byte) (File, error) {
	var f File
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return File{}, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return f, f.validate()
}

// Read reads the access file at path. It refuses a file other users may read (see
// secretfile.Read); a missing file is fs.ErrNotExist, unreadable for this user
// fs.ErrPermission.
func Read(path string) (File, error) {
	data, err := secretfile.Read(path)
	if err != nil {
		return File{}, err
	}
	f, err := parse(data)
	if err != nil {
		return File{}, fmt.Errorf("%s: %w", path, err)
	}
	return f, nil
}

// Ensure makes path the access file of a plane serving on endpoint for region and returns
// it. The key pair is generated on the first call and kept afterwards; endpoint and
// region are rewritten (atomically) when they changed, e.g. with --local-api :0. A file
// that others could read (its key pair may be known) or that cannot be parsed gets a new
// key pair, with a log line saying so: the pair has no value beyond this installation.
func Ensure(path, endpoint, region string, log logr.Logger) (File, error) {
	want := File{Endpoint: endpoint, Region: region}
	if err := want.validateTarget(); err != nil {
		return File{}, err
	}
	fresh := func() (File, error) {
		f := want
		var err error
		f.AccessKeyID, f.SecretAccessKey, err = NewKeyPair()
		return f, err
	}
	if fi, err := os.Lstat(path); err == nil && (!fi.Mode().IsRegular() || fi.Mode().Perm()&0o077 != 0) {
		log.Info("the local control plane's access file could be read by other users; replacing its key pair",
			"path", path, "mode", fi.Mode().String())
		if err := os.Remove(path); err != nil {
			return File{}, fmt.Errorf("%s: %w", path, err)
		}
	}
	created := false
	data, err := secretfile.LoadOrCreate(path, func() ([]byte, error) {
		created = true
		f, err := fresh()
		if err != nil {
			return nil, err
		}
		return json.MarshalIndent(f, "", "  ")
	})
	if err != nil {
		return File{}, fmt.Errorf("%s: %w", path, err)
	}
	f, err := parse(data)
	switch {
	case err != nil:
		log.Info("the local control plane's access file cannot be read; replacing it with a new key pair",
			"path", path, "error", err.Error())
		if f, err = fresh(); err != nil {
			return File{}, err
		}
	case f.Endpoint == endpoint && f.Region == region:
		if created {
			log.Info("generated the local control plane's key pair", "path", path)
		}
		return f, nil
	}
	f.Endpoint, f.Region = endpoint, region
	out, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return File{}, err
	}
	if err := secretfile.Write(path, out); err != nil {
		return File{}, fmt.Errorf("%s: %w", path, err)
	}
	return f, nil
}

// validateTarget checks the endpoint and region Ensure is to record.
func (f File) validateTarget() error {
	f.AccessKeyID, f.SecretAccessKey = "x", "x"
	return f.validate()
}

// NewKeyPair returns a random access key ID (20 characters, upper case and digits, like
// AWS's) and secret access key (40 characters).
func NewKeyPair() (accessKeyID, secretAccessKey string, err error) {
	id := make([]byte, 10)
	secret := make([]byte, 30)
	if _, err := rand.Read(id); err != nil {
		return "", "", err
	}
	if _, err := rand.Read(secret); err != nil {
		return "", "", err
	}
	// 16 base32 characters after a recognisable prefix: ECSD + 16 = 20.
	return "ECSD" + base32.StdEncoding.EncodeToString(id)[:16], base64.RawURLEncoding.EncodeToString(secret), nil
}
