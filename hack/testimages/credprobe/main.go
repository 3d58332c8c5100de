// Command credprobe runs inside test task containers to see the agent's endpoints the way
// real workloads do: through aws-sdk-go-v2's default credential chain and plain HTTP GETs
// of the metadata URIs the agent put in the environment. It prints one line per result and
// exits 1 on any failure, so a test reads its log and exit code.
//
//	credprobe creds            resolve credentials with the default chain
//	credprobe get <url>...     GET each URL, print "<status> <body>"
package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: credprobe creds | get <url>...")
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
