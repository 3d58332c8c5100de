package envfiles

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awscreds "github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	api "github.com/ecsd/ecsd/api/v1alpha1"
)

type fakeS3 struct {
	objects map[string]string
	region  *string
}

func (f *fakeS3) GetObject(_ context.Context, in *s3.GetObjectInput, _ ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
	v, ok := f.objects[aws.ToString(in.Bucket)+"/"+aws.ToString(in.Key)]
	if !ok {
		return nil, &types.NoSuchKey{Message: aws.String("The specified key does not exist.")}
	}
	return &s3.GetObjectOutput{Body: io.NopCloser(strings.NewReader(v))}, nil
}

func static() (aws.CredentialsProvider, error) {
	return awscreds.NewStaticCredentialsProvider("K", "S", ""), nil
}

func TestPrecedenceAndFormat(t *testing.T) {
	var region string
	fake := &fakeS3{objects: map[string]string{
		"b/one.env": "# comment\n\nA=from-one\nB=from-one\nURL=http://x/?a=b\r\nB=one-again\n",
		"b/two.env": "A=from-two\nC=from-two\nD=\n",
	}}
	r := New(nil, func(c aws.Config) S3Client { region = c.Region; return fake })
	local := filepath.Join(t.TempDir(), "local.env")
	if err := os.WriteFile(local, []byte("C=from-local\nE=from-local\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	files, err := r.Read(context.Background(), []api.EnvironmentFile{
		{Type: "s3", Value: "arn:aws:s3:::b/one.env"},
		{Type: "s3", Value: "arn:aws:s3:::b/two.env"},
		{Type: "local", Value: local},
	}, "eu-west-1", static)
	if err != nil {
		t.Fatal(err)
	}
	if region != "eu-west-1" {
		t.Errorf("S3 client region %q", region)
	}
	got := Merge(map[string]string{"E": "from-environment"}, files)
	want := map[string]string{
		"A":   "from-one",  // the first file that sets a variable wins
		"B":   "one-again", // within a file, the later line
		"URL": "http://x/?a=b",
		"C":   "from-two",
		"D":   "",
		"E":   "from-environment", // the container's environment wins over every file
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("merged %v\nwant %v", got, want)
	}
}

func TestErrors(t *testing.T) {
	fake := &fakeS3{objects: map[string]string{
		"b/bad.env":  "A=1\nthis-line-is-secret-ish\n",
		"b/huge.env": strings.Repeat("A=1234567\n", MaxFileSize/10+1),
	}}
	r := New(nil, func(aws.Config) S3Client { return fake })
	for _, tc := range []struct{ value, want string }{
		{"arn:aws:s3:::b/missing.env", "unable to download env file with key missing.env from bucket b, error: "},
		{"arn:aws:s3:::b/bad.env", "env file with key bad.env from bucket b: line 2: want KEY=VALUE"},
		{"arn:aws:s3:::b/huge.env", "larger than 1048576 bytes"},
		{"arn:aws:s3:::nokey", "unable to parse bucket and key from s3 ARN"},
		{"s3://b/k", "unable to parse bucket and key from s3 ARN"},
	} {
		_, err := r.Read(context.Background(), []api.EnvironmentFile{{Type: "s3", Value: tc.value}}, "us-east-1", static)
		if !errors.Is(err, ErrUnreadable) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want ErrUnreadable containing %q", tc.value, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "secret-ish") {
			t.Errorf("%s: the error quotes the file: %v", tc.value, err)
		}
	}
	noCreds := errors.New("no credentials")
	if _, err := r.Read(context.Background(), []api.EnvironmentFile{{Type: "s3", Value: "arn:aws:s3:::b/bad.env"}}, "us-east-1",
		func() (aws.CredentialsProvider, error) { return nil, noCreds }); !errors.Is(err, noCreds) {
		t.Errorf("without credentials: %v", err)
	}
}
