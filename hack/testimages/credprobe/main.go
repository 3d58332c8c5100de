// Command credprobe runs inside test task containers to see the agent's endpoints the way
// real workloads do: through aws-sdk-go-v2's default credential chain and plain HTTP GETs
// of the metadata URIs the agent put in the environment. It prints one line per result and
// exits 1 on any failure, so a test reads its log and exit code.
//
//	credprobe creds            resolve credentials with the default chain
//	credprobe get <url>...     GET each URL, print "<status> <body>"
//	credprobe put <url> <body> PUT a JSON body to URL, print "<status> <body>"
//	credprobe metadata-file    wait until $ECS_CONTAINER_METADATA_FILE says READY, print it
//	                           on one line
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: credprobe creds | get <url>... | put <url> <body> | metadata-file")
		os.Exit(2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var err error
	switch os.Args[1] {
	case "creds":
		err = creds(ctx)
	case "get":
		err = get(ctx, os.Args[2:])
	case "put":
		if len(os.Args) != 4 {
			err = errors.New("usage: credprobe put <url> <body>")
			break
		}
		err = put(ctx, os.Args[2], os.Args[3])
	case "metadata-file":
		err = metadataFile(ctx, os.Getenv("ECS_CONTAINER_METADATA_FILE"))
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Printf("error=%v\n", err)
		os.Exit(1)
	}
}

// creds resolves credentials exactly as an application using the SDK would. The secret
// members are never printed; the access key ID is enough to tell whose they are.
func creds(ctx context.Context) error {
	cfg, err := config.LoadDefaultConfig(ctx, config.WithRegion("us-west-2"))
	if err != nil {
		return err
	}
	c, err := cfg.Credentials.Retrieve(ctx)
	if err != nil {
		return err
	}
	fmt.Printf("access-key=%s source=%s has-secret=%t has-token=%t\n", c.AccessKeyID, c.Source, c.SecretAccessKey != "", c.SessionToken != "")
	return nil
}

func get(ctx context.Context, urls []string) error {
	var failed error
	for _, u := range urls {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			fmt.Printf("%s error %v\n", u, err)
			failed = err
			continue
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Printf("%d %s\n", resp.StatusCode, body)
	}
	return failed
}

// put sends body as a workload calling the agent API would: a JSON PUT.
func put(ctx context.Context, url, body string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, url, strings.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	fmt.Printf("%d %s\n", resp.StatusCode, b)
	return nil
}

// metadataFile reads the container metadata file the way its documentation tells readers
// to: poll until MetadataFileStatus is READY (the first write leaves the key out). The
// file is tab-indented; it is printed compacted, on one line.
func metadataFile(ctx context.Context, path string) error {
	if path == "" {
		return errors.New("ECS_CONTAINER_METADATA_FILE is not set")
	}
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		b, err := os.ReadFile(path)
		var f struct{ MetadataFileStatus string }
		if err == nil && json.Unmarshal(b, &f) == nil && f.MetadataFileStatus == "READY" {
			var out bytes.Buffer
			if err := json.Compact(&out, b); err != nil {
				return err
			}
			fmt.Printf("%s\n", out.Bytes())
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s never said READY: %w (last read: %v)", path, ctx.Err(), err)
		case <-tick.C:
		}
	}
}
