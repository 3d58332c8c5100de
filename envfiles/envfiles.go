// Package envfiles reads a container's environment files: local paths, and S3 objects
// (environmentFiles type "s3", value arn:aws:s3:::bucket/key) read with the task's
// execution role. Files are read into memory only and bounded in size; nothing is
// written to disk.
package envfiles

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	api "github.com/ecsd/ecsd/api/v1alpha1"
	"github.com/ecsd/ecsd/internal/awsclient"
	"github.com/ecsd/ecsd/internal/reasonerr"
)

// MaxFileSize bounds one environment file. A file larger than this stops the task instead
// of filling the agent's memory.
const MaxFileSize = 1 << 20

// Types of environment files.
const (
	TypeS3    = "s3"
	TypeLocal = "local"
)

// Errors callers tell apart with errors.Is.
var (
	// ErrUnreadable means a file could not be read or parsed; the error's text is the
	// reason the task stops with.
	ErrUnreadable = errors.New("environment file cannot be read")
)

// S3Client is the part of the S3 client the reader uses.
type S3Client interface {
	GetObject(ctx context.Context, in *s3.GetObjectInput, opts ...func(*s3.Options)) (*s3.GetObjectOutput, error)
}

// Reader reads environment files. It is safe for concurrent use.
type Reader struct {
	aws   *awsclient.Factory
	newS3 func(aws.Config) S3Client
}

// New returns a Reader whose S3 clients come from f (nil: default endpoints). newS3, when
// not nil, replaces the SDK client (tests).
func New(f *awsclient.Factory, newS3 func(aws.Config) S3Client) *Reader {
	if f == nil {
		f = awsclient.Bare(nil)
	}
	if newS3 == nil {
		newS3 = func(c aws.Config) S3Client {
			return s3.NewFromConfig(c, func(o *s3.Options) {
				// An endpoint set by AWS_ENDPOINT_URL_S3 is an S3-compatible store or an
				// emulator on an address, where bucket host names do not resolve.
				o.UsePathStyle = o.BaseEndpoint != nil
			})
		}
	}
	return &Reader{aws: f, newS3: newS3}
}

// s3DefaultRegion is S3's region for requests that name none.
const s3DefaultRegion = "us-east-1"

// Read returns the variables of each file, in order. S3 files are read from region with
// the credentials creds returns (the task's execution role), asked for only when there is
// an S3 file. The caller merges the result with Merge.
func (r *Reader) Read(ctx context.Context, files []api.EnvironmentFile, region string, creds func() (aws.CredentialsProvider, error)) ([]map[string]string, error) {
	out := make([]map[string]string, 0, len(files))
	for _, f := range files {
		var vars map[string]string
		var err error
		switch f.Type {
		case TypeS3:
			vars, err = r.readS3(ctx, f.Value, region, creds)
		case TypeLocal, "":
			vars, err = readLocal(f.Value)
		default:
			err = fmt.Errorf("%w: environment file %s: type %q is not s3 or local", ErrUnreadable, f.Value, f.Type)
		}
		if err != nil {
			return nil, err
		}
		out = append(out, vars)
	}
	return out, nil
}

// readS3 reads arn:aws:s3:::bucket/key.
func (r *Reader) readS3(ctx context.Context, arn, region string, creds func() (aws.CredentialsProvider, error)) (map[string]string, error) {
	bucket, key, err := parseS3ARN(arn)
	if err != nil {
		return nil, unreadable(err, "unable to parse bucket and key from s3 ARN specified in environmentFile %s, error: %v", arn, err)
	}
	p, err := creds()
	if err != nil {
		return nil, err
	}
	if region == "" {
		// An S3 ARN names no region. Without one of its own (an agent run without a
		// region), the agent asks S3's default region, which redirects to the bucket's.
		region = s3DefaultRegion
	}
	obj, err := r.newS3(r.aws.Config(region, p)).GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		return nil, unreadable(err, "unable to download env file with key %s from bucket %s, error: %v", key, bucket, err)
	}
	defer obj.Body.Close()
	vars, err := parse(obj.Body)
	if err != nil {
		return nil, unreadable(err, "env file with key %s from bucket %s: %v", key, bucket, err)
	}
	return vars, nil
}

func readLocal(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, unreadable(err, "environment file %s: %v", path, err)
	}
	defer f.Close()
	vars, err := parse(f)
	if err != nil {
		return nil, unreadable(err, "environment file %s: %v", path, err)
	}
	return vars, nil
}

// parseS3ARN splits arn:aws:s3:::bucket/key (any partition).
func parseS3ARN(arn string) (bucket, key string, err error) {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || parts[2] != "s3" {
		return "", "", fmt.Errorf("not an S3 object ARN (arn:aws:s3:::bucket/key)")
	}
	bucket, key, ok := strings.Cut(parts[5], "/")
	if !ok || bucket == "" || key == "" {
		return "", "", fmt.Errorf("no bucket/key in %q", parts[5])
	}
	return bucket, key, nil
}

// parse reads the reference agent's format: KEY=VALUE lines, the value everything after
// the first "=", lines starting with # and blank lines skipped; a later line for the same
// key wins. A line that is none of these is an error, never skipped silently. At most
// MaxFileSize bytes are read.
func parse(r io.Reader) (map[string]string, error) {
	b, err := io.ReadAll(io.LimitReader(r, MaxFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(b) > MaxFileSize {
		return nil, fmt.Errorf("larger than %d bytes", MaxFileSize)
	}
	vars := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 64<<10), MaxFileSize)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimRight(sc.Text(), "\r")
		if strings.TrimSpace(line) == "" || strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok || strings.TrimSpace(k) == "" {
			// The line number only: the line itself may hold a secret.
			return nil, fmt.Errorf("line %d: want KEY=VALUE", n)
		}
		if strings.ContainsAny(k, "\x00") || strings.ContainsAny(v, "\x00") {
			return nil, fmt.Errorf("line %d: NUL byte", n)
		}
		vars[strings.TrimSpace(k)] = v
	}
	return vars, sc.Err()
}

// Merge applies files under env: a variable of env wins over every file, and of the
// files the first one that sets a variable wins, as in the reference agent (it adds a
// file's variable only when no earlier source set it).
func Merge(env map[string]string, files []map[string]string) map[string]string {
	out := make(map[string]string, len(env))
	for _, f := range files {
		for k, v := range f {
			if _, set := out[k]; !set {
				out[k] = v
			}
		}
	}
	for k, v := range env {
		out[k] = v
	}
	return out
}

// unreadable is a file that cannot be read; its text is the task's stop reason.
func unreadable(cause error, format string, args ...any) error {
	return reasonerr.New(ErrUnreadable, cause, format, args...)
}
