// Package sharedcreds reads the instance's credentials from a profile of the shared
// credentials file and reads them again whenever the file changes. On ECS Anywhere the SSM
// agent writes the instance role's temporary credentials to that file (root's
// ~/.aws/credentials) and rewrites it before they expire; the SDK's own shared-file
// provider reads the file once, so an agent using it would sign with revoked keys after
// the first rotation. The profile is ECS_ALTERNATE_CREDENTIAL_PROFILE ("default" unless
// set), as with the reference agent.
//
// The reference agent re-reads the file every minute; this provider instead looks at the
// file's identity (inode, size, modification and change times) at most once per Recheck
// (a second by default) and parses it only when that changed, so a rotation is noticed
// within a second at the cost of one stat.
package sharedcreds

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/go-logr/logr"
	"k8s.io/utils/clock"
)

// Source names the provider in aws.Credentials.Source.
const Source = "RotatingSharedCredentialsFile"

// DefaultRecheck is how long credentials handed out stay valid for a caching caller
// before it asks again (and the file is looked at again).
const DefaultRecheck = time.Second

// maxFileSize bounds the file parsed; a credentials file is a few hundred bytes per profile.
const maxFileSize = 1 << 20

// DefaultPath is the shared credentials file the SDK would read: AWS_SHARED_CREDENTIALS_FILE,
// else ~/.aws/credentials of the agent's user.
func DefaultPath() string {
	if p := os.Getenv("AWS_SHARED_CREDENTIALS_FILE"); p != "" {
		return p
	}
	return awsconfig.DefaultSharedCredentialsFilename()
}

// Options configures a Provider.
type Options struct {
	// Path is the credentials file; empty is DefaultPath().
	Path string
	// Profile is the section read; empty is "default".
	Profile string
	// Recheck is the validity of the credentials returned; zero is DefaultRecheck.
	Recheck time.Duration
	// Clock stamps expiries; nil is the real clock.
	Clock clock.PassiveClock
	Log   logr.Logger
}

// Provider is an aws.CredentialsProvider over one profile of the file. Safe for
// concurrent use.
type Provider struct {
	o Options

	mu    sync.Mutex
	stamp stamp
	creds aws.Credentials
	have  bool
	// failing is the last error logged while the last good credentials are kept.
	failing string
}

// stamp identifies a version of the file: a rewrite in place changes the times and
// usually the size, a rename over it the inode.
type stamp struct {
	ino          uint64
	size         int64
	mtime, ctime time.Time
}

// New returns a Provider; it reads nothing until the first Retrieve.
func New(o Options) *Provider {
	if o.Path == "" {
		o.Path = DefaultPath()
	}
	if o.Profile == "" {
		o.Profile = "default"
	}
	if o.Recheck <= 0 {
		o.Recheck = DefaultRecheck
	}
	if o.Clock == nil {
		o.Clock = clock.RealClock{}
	}
	return &Provider{o: o}
}

// Path is the file read.
func (p *Provider) Path() string { return p.o.Path }

// Retrieve returns the profile's keys, read again if the file changed since the last
// call. A file that cannot be read or parsed after a successful read leaves the last good
// keys in use (the writer may be half-way through; the keys work until they are revoked)
// and is logged once per distinct error; before any success it is an error.
func (p *Provider) Retrieve(ctx context.Context) (aws.Credentials, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	st, err := statFile(p.o.Path)
	if err == nil && p.have && st == p.stamp {
		return p.fresh(p.creds), nil
	}
	var creds aws.Credentials
	if err == nil {
		creds, err = p.read(ctx, st)
	}
	if err != nil {
		err = fmt.Errorf("shared credentials file %s, profile %s: %w", p.o.Path, p.o.Profile, err)
		if !p.have {
			return aws.Credentials{}, err
		}
		if err.Error() != p.failing {
			p.o.Log.Error(err, "keeping the credentials last read until the file is readable again")
			p.failing = err.Error()
		}
		return p.fresh(p.creds), nil
	}
	if p.have && creds.AccessKeyID != p.creds.AccessKeyID {
		p.o.Log.Info("the shared credentials file changed: signing with the new keys", "file", p.o.Path,
			"profile", p.o.Profile, "accessKeyID", redact(creds.AccessKeyID))
	} else if !p.have {
		p.o.Log.Info("using the shared credentials file", "file", p.o.Path, "profile", p.o.Profile,
			"accessKeyID", redact(creds.AccessKeyID))
	}
	p.stamp, p.creds, p.have, p.failing = st, creds, true, ""
	return p.fresh(creds), nil
}

// fresh stamps credentials to be asked for again after Recheck.
func (p *Provider) fresh(c aws.Credentials) aws.Credentials {
	c.CanExpire = true
	c.Expires = p.o.Clock.Now().Add(p.o.Recheck)
	return c
}

// read parses the profile from the file version st.
func (p *Provider) read(ctx context.Context, st stamp) (aws.Credentials, error) {
	if st.size > maxFileSize {
		return aws.Credentials{}, fmt.Errorf("file larger than %d bytes", maxFileSize)
	}
	sc, err := awsconfig.LoadSharedConfigProfile(ctx, p.o.Profile, func(o *awsconfig.LoadSharedConfigOptions) {
		o.CredentialsFiles = []string{p.o.Path}
		o.ConfigFiles = []string{} // the credentials file only, not ~/.aws/config
	})
	if err != nil {
		return aws.Credentials{}, err
	}
	c := sc.Credentials
	if c.AccessKeyID == "" || c.SecretAccessKey == "" {
		return aws.Credentials{}, errors.New("the profile has no aws_access_key_id and aws_secret_access_key")
	}
	c.Source = Source
	return c, nil
}

func statFile(path string) (stamp, error) {
	fi, err := os.Stat(filepath.Clean(path))
	if err != nil {
		return stamp{}, err
	}
	s := stamp{size: fi.Size(), mtime: fi.ModTime()}
	if sys, ok := fi.Sys().(*syscall.Stat_t); ok {
		s.ino = sys.Ino
		s.ctime = time.Unix(sys.Ctim.Sec, sys.Ctim.Nsec)
	}
	return s, nil
}

// redact shows the last four characters of an access key ID, as the reference agent logs it.
func redact(id string) string {
	if len(id) <= 8 {
		return "XXXX"
	}
	return "XXXX" + id[len(id)-4:]
}
