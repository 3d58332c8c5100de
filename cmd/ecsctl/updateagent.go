package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/ecsd/ecsd/controlplane/sigv4"
	"github.com/ecsd/ecsd/internal/selfupdate/artifact"
	"github.com/ecsd/ecsd/localplane"
)

// updateOptions are `ecsctl update-agent`'s flags.
type updateOptions struct {
	g        *globalOptions
	streams  genericiooptions.IOStreams
	ecs      ecsFlags
	file     string
	instance string
	listen   string
	timeout  time.Duration
	// endpointFromFile: the endpoint came from the access file, which an embedded control
	// plane rewrites when the updated agent starts it again (on another port if it was 0).
	endpointFromFile bool
}

func newUpdateAgentCmd(g *globalOptions, s genericiooptions.IOStreams) *cobra.Command {
	o := &updateOptions{g: g, streams: s}
	cmd := &cobra.Command{
		Use:   "update-agent --file ARTIFACT",
		Short: "Update the agent to the build in a file, through the local control plane",
		Long: `Update an agent to the ecsd update artifact in a file (a .tar.gz holding ecs-agent,
ecsd-init, ecsd-logger, ecsd-logger-awslogs and ecsd-logger-ship; see the README's
"Self-update") the way
ECS updates agents: ecsctl serves the file on a loopback address, asks the local control
plane to update the container instance (UpdateContainerAgent, with the file's URL and
SHA-256), and follows the instance's agent update status while the plane sends
StageUpdate and PerformUpdate over ACS. The agent downloads and checks the file, stages
it, exits with status 42 and is started again by systemd: ecs-init installs the update
and runs it. Tasks keep running.

The agent must run with ECS_UPDATES_ENABLED=true, under ecs-init start (the systemd
unit), on this machine. Prints each status and the agent's version before and after;
fails with the agent's reason when it refuses the update, and when the agent comes back
at the version it had (the update was not installed, or was rolled back).`,
		Example: `  tar -C bin -czf /tmp/ecsd-update.tar.gz ecs-agent ecsd-init ecsd-logger ecsd-logger-awslogs ecsd-logger-ship
  ecsctl update-agent --file /tmp/ecsd-update.tar.gz`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return o.run(cmd.Context())
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.file, "file", "f", "", "the update artifact (required)")
	f.StringVar(&o.instance, "container-instance", "", "the container instance to update (ID or ARN; default: the agent's at --server, else the cluster's only one)")
	f.StringVar(&o.listen, "listen", "127.0.0.1:0", "loopback address to serve the file on, for the agent to download it")
	f.DurationVar(&o.timeout, "timeout", 10*time.Minute, "how long to wait for the update to finish")
	o.ecs.addFlags(cmd)
	_ = cmd.MarkFlagRequired("file")
	_ = cmd.MarkFlagFilename("file", "tar.gz", "tgz")
	return cmd
}

func (o *updateOptions) run(ctx context.Context) error {
	if o.timeout <= 0 {
		return errors.New("--timeout must be positive")
	}
	if _, err := localplane.LoopbackListenAddr(o.listen); err != nil {
		return fmt.Errorf("--listen: %w", err)
	}
	// Refused here, with the reason, rather than by the agent a minute later.
	if fi, err := os.Stat(o.file); err != nil {
		return err
	} else if fi.Size() > artifact.MaxSize {
		return fmt.Errorf("%s: %d bytes, more than an update may be (%d)", o.file, fi.Size(), artifact.MaxSize)
	}
	if err := artifact.CheckFile(o.file, runtime.GOARCH); err != nil {
		return fmt.Errorf("%s: %w", o.file, err)
	}
	data, err := os.ReadFile(o.file)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(data)
	sig := hex.EncodeToString(sum[:])

	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	o.endpointFromFile = o.ecs.endpoint == ""
	if err := o.ecs.resolve(); err != nil {
		return err
	}
	cluster := o.ecs.resolveCluster(ctx, o.g)
	instance, err := o.resolveInstance(ctx, cluster)
	if err != nil {
		return err
	}

	location, served, stop, err := serveFile(o.listen, filepath.Base(o.file), data)
	if err != nil {
		return err
	}
	defer stop()
	out := o.streams.Out
	fmt.Fprintf(out, "serving %s (%d bytes, sha256 %s) at %s\n", o.file, len(data), sig, location)

	var resp struct {
		ContainerInstance instanceUpdateView `json:"containerInstance"`
	}
	in := map[string]any{"cluster": cluster, "containerInstance": instance,
		"updateInfo": map[string]string{"location": location, "signature": sig}}
	if err := o.call(ctx, "UpdateContainerAgent", in, &resp); err != nil {
		return err
	}
	from := resp.ContainerInstance.VersionInfo
	fmt.Fprintf(out, "update requested for %s (agent %s)\n", resp.ContainerInstance.ContainerInstanceArn, from)

	last := resp.ContainerInstance.AgentUpdateStatus
	fmt.Fprintf(out, "agent update status: %s\n", last)
	downloads := 0
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	var lastErr error
	for {
		select {
		case <-ctx.Done():
			if lastErr != nil {
				return fmt.Errorf("timed out after %s with the agent update %s (last error: %w)", o.timeout, last, lastErr)
			}
			return fmt.Errorf("timed out after %s with the agent update %s", o.timeout, last)
		case <-served:
			downloads++
			fmt.Fprintf(out, "the agent is downloading the update (%d)\n", downloads)
			continue
		case <-tick.C:
		}
		ci, err := o.describe(ctx, cluster, instance)
		if err != nil {
			// The local control plane embedded in the agent is down while the agent restarts.
			lastErr = err
			continue
		}
		if ci.AgentUpdateStatus != last {
			last = ci.AgentUpdateStatus
			fmt.Fprintf(out, "agent update status: %s\n", last)
		}
		switch last {
		case "UPDATED":
			if !ci.AgentConnected {
				continue
			}
			if ci.VersionInfo == from {
				// It acknowledged the update but came back as it was: ecs-init did not install
				// the update, or rolled it back.
				return fmt.Errorf("the agent came back at the version it had, %s: the update was not installed "+
					"or was rolled back (ecs-init logs why, e.g. journalctl -u ecs)", from)
			}
			fmt.Fprintf(out, "agent updated: %s -> %s\n", from, ci.VersionInfo)
			return nil
		case "FAILED":
			return fmt.Errorf("the agent refused the update: %s", ci.AgentUpdateReason)
		}
	}
}

// instanceUpdateView is what update-agent reads of a container instance.
type instanceUpdateView struct {
	ContainerInstanceArn string          `json:"containerInstanceArn"`
	AgentConnected       bool            `json:"agentConnected"`
	AgentUpdateStatus    string          `json:"agentUpdateStatus"`
	AgentUpdateReason    string          `json:"agentUpdateReason"`
	VersionInfo          versionInfoView `json:"versionInfo"`
}

type versionInfoView struct {
	AgentVersion string `json:"agentVersion"`
	AgentHash    string `json:"agentHash"`
}

func (v versionInfoView) String() string {
	if v.AgentHash == "" {
		return v.AgentVersion
	}
	return v.AgentVersion + " (" + v.AgentHash + ")"
}

// resolveInstance is --container-instance, else the instance of the agent at --server,
// else the cluster's only instance.
func (o *updateOptions) resolveInstance(ctx context.Context, cluster string) (string, error) {
	if o.instance != "" {
		return o.instance, nil
	}
	mctx, cancel := context.WithTimeout(ctx, clusterLookupTimeout)
	md, err := agentMetadata(mctx, o.g)
	cancel()
	if err == nil && md.ContainerInstanceArn != nil && *md.ContainerInstanceArn != "" {
		return *md.ContainerInstanceArn, nil
	}
	var list struct {
		ContainerInstanceArns []string `json:"containerInstanceArns"`
	}
	if err := o.call(ctx, "ListContainerInstances", map[string]string{"cluster": cluster}, &list); err != nil {
		return "", err
	}
	if len(list.ContainerInstanceArns) != 1 {
		return "", fmt.Errorf("cluster %s has %d container instances: name one with --container-instance", cluster, len(list.ContainerInstanceArns))
	}
	return list.ContainerInstanceArns[0], nil
}

func (o *updateOptions) describe(ctx context.Context, cluster, instance string) (instanceUpdateView, error) {
	var out struct {
		ContainerInstances []instanceUpdateView `json:"containerInstances"`
	}
	in := map[string]any{"cluster": cluster, "containerInstances": []string{instance}}
	if err := o.call(ctx, "DescribeContainerInstances", in, &out); err != nil {
		return instanceUpdateView{}, err
	}
	if len(out.ContainerInstances) != 1 {
		return instanceUpdateView{}, fmt.Errorf("container instance %s not found in cluster %s", instance, cluster)
	}
	return out.ContainerInstances[0], nil
}

// call makes one signed ECS API (JSON 1.1) request. It does not go through the SDK's
// client because UpdateContainerAgent's updateInfo and DescribeContainerInstances'
// agentUpdateReason are ecsd extensions the SDK's shapes do not have. A connection failure
// re-reads the access file when the endpoint came from it, for the next call.
func (o *updateOptions) call(ctx context.Context, op string, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return err
	}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(cctx, http.MethodPost, o.ecs.endpoint, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("--endpoint %q: %w", o.ecs.endpoint, err)
	}
	req.Header.Set("X-Amz-Target", "AmazonEC2ContainerServiceV20141113."+op)
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	creds := aws.Credentials{AccessKeyID: o.ecs.accessKeyID, SecretAccessKey: o.ecs.secretAccessKey}
	if err := v4.NewSigner().SignHTTP(cctx, creds, req, sigv4.PayloadHash(body), "ecs", o.ecs.region, time.Now()); err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		if o.endpointFromFile {
			if f, ferr := readAccessFile(o.ecs.credentialsFile); ferr == nil {
				o.ecs.endpoint, o.ecs.accessKeyID, o.ecs.secretAccessKey = f.Endpoint, f.AccessKeyID, f.SecretAccessKey
			}
		}
		return fmt.Errorf("%s: %w", op, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Type    string `json:"__type"`
			Message string `json:"message"`
		}
		_ = json.Unmarshal(data, &e)
		return fmt.Errorf("%s: %s: %s", op, e.Type, e.Message)
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("%s: decoding the answer: %w", op, err)
	}
	return nil
}

// serveFile serves data at an unguessable path of a new listener on addr (a loopback
// address) and returns its URL, a channel that receives each download, and the function
// that stops serving. Only GET and HEAD of that one path are answered.
func serveFile(addr, name string, data []byte) (string, <-chan struct{}, func(), error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", nil, nil, fmt.Errorf("serve the update: %w", err)
	}
	token := make([]byte, 16)
	_, _ = rand.Read(token)
	path := "/" + hex.EncodeToString(token) + "/" + name
	served := make(chan struct{}, 16)
	srv := &http.Server{
		ReadHeaderTimeout: 10 * time.Second,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != path || (r.Method != http.MethodGet && r.Method != http.MethodHead) {
				http.NotFound(w, r)
				return
			}
			if r.Method == http.MethodGet {
				select {
				case served <- struct{}{}:
				default:
				}
			}
			w.Header().Set("Content-Type", "application/gzip")
			http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(data))
		}),
	}
	go func() { _ = srv.Serve(ln) }()
	stop := func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}
	return "http://" + ln.Addr().String() + path, served, stop, nil
}
