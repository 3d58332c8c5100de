package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/go-logr/logr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	api "github.com/ecsd/ecsd/api/v1alpha1"
	"github.com/ecsd/ecsd/config"
	"github.com/ecsd/ecsd/controllers"
	"github.com/ecsd/ecsd/credentials"
	"github.com/ecsd/ecsd/internal/logdriver"
	"github.com/ecsd/ecsd/server/logcreds"
)

// awslogsBinary is what ecsd-logger becomes for awslogs, shipBinary what it becomes for
// fluentd, syslog and gelf; they must be next to it.
const (
	awslogsBinary = "ecsd-logger-awslogs"
	shipBinary    = "ecsd-logger-ship"
)

// cloudWatchLogsEndpoint is the CloudWatch Logs endpoint of the agent's environment, the
// SDK's service-specific setting first: the loggers run with containerd's environment, so
// the agent passes it on.
func cloudWatchLogsEndpoint() string {
	if v := os.Getenv("AWS_ENDPOINT_URL_CLOUDWATCH_LOGS"); v != "" {
		return v
	}
	return os.Getenv("AWS_ENDPOINT_URL")
}

// logCredentialsSource gives a task's loggers their credentials (logcreds.CredentialsSource).
type logCredentialsSource struct {
	reader client.Reader
	creds  *credentials.Manager
	// executionRole: ECS_ENABLE_AWSLOGS_EXECUTIONROLE_OVERRIDE.
	executionRole bool
	// instance is the agent's own credentials; nil when it has none (local mode without
	// AWS credentials in its environment).
	instance aws.CredentialsProvider
}

// LogCredentials returns the task's execution-role credentials when the task has an
// execution role and the override is on, else the instance's. Only tasks with an awslogs
// container get any.
func (s *logCredentialsSource) LogCredentials(ctx context.Context, taskARN string) (logcreds.Credentials, error) {
	t, err := s.awslogsTask(ctx, taskARN)
	if err != nil {
		return logcreds.Credentials{}, err
	}
	if s.executionRole && t.Spec.ExecutionCredentialsID != "" {
		e, ok := s.creds.ForTask(taskARN, credentials.TaskExecution)
		if !ok {
			// After a restart, until ACS sends them again: the logger keeps what it has.
			return logcreds.Credentials{}, errors.New("the task's execution-role credentials have not arrived yet")
		}
		return logcreds.Credentials{AccessKeyID: e.AccessKeyID, SecretAccessKey: e.SecretAccessKey, SessionToken: e.SessionToken, Expiration: e.Expiration}, nil
	}
	if s.instance == nil {
		return logcreds.Credentials{}, errors.New("the agent has no instance credentials")
	}
	c, err := s.instance.Retrieve(ctx)
	if err != nil {
		return logcreds.Credentials{}, fmt.Errorf("instance credentials: %w", err)
	}
	out := logcreds.Credentials{AccessKeyID: c.AccessKeyID, SecretAccessKey: c.SecretAccessKey, SessionToken: c.SessionToken}
	if c.CanExpire {
		out.Expiration = c.Expires
	}
	return out, nil
}

// awslogsTask is the task with taskARN if one of its containers logs with awslogs.
func (s *logCredentialsSource) awslogsTask(ctx context.Context, taskARN string) (*api.Task, error) {
	i := strings.LastIndexByte(taskARN, '/')
	if i < 0 || i == len(taskARN)-1 {
		return nil, logcreds.ErrUnknownTask
	}
	t := &api.Task{}
	if err := s.reader.Get(ctx, keyOf(taskARN[i+1:]), t); err != nil {
		if client.IgnoreNotFound(err) == nil {
			return nil, logcreds.ErrUnknownTask
		}
		return nil, err
	}
	if t.Spec.ARN != taskARN {
		return nil, logcreds.ErrUnknownTask
	}
	for _, name := range t.Spec.Containers {
		c := &api.Container{}
		if err := s.reader.Get(ctx, keyOf(api.ContainerName(t.Name, name)), c); err != nil {
			continue
		}
		if lc := c.Spec.LogConfig; lc != nil && lc.Driver == logdriver.AWSLogs {
			return t, nil
		}
	}
	return nil, logcreds.ErrUnknownTask
}

// logCredentialsServer is the credentials socket, ready to serve.
type logCredentialsServer struct {
	srv  *http.Server
	path string
	log  logr.Logger
}

// setupLogCredentials opens the loggers' credentials socket and says in settings how
// loggers reach it; when awslogs cannot work here, settings say why instead.
func setupLogCredentials(cfg *config.Config, loggerPath string, src logcreds.CredentialsSource, secrets logcreds.SecretsSource,
	settings *controllers.CreateOptions, log logr.Logger) *logCredentialsServer {
	settings.CloudWatchLogsEndpoint = cloudWatchLogsEndpoint()
	if _, err := os.Stat(filepath.Join(filepath.Dir(loggerPath), shipBinary)); err != nil {
		settings.ShipUnavailable = shipBinary + " is not installed next to " + loggerPath
		log.Info("fluentd, syslog and gelf containers will be refused", "reason", settings.ShipUnavailable)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(loggerPath), awslogsBinary)); err != nil {
		settings.AWSLogsUnavailable = awslogsBinary + " is not installed next to " + loggerPath
		log.Info("awslogs containers will be refused", "reason", settings.AWSLogsUnavailable)
		return nil
	}
	if cfg.APITokenFile == "" {
		settings.AWSLogsUnavailable = "ECSD_API_TOKEN_FILE is empty, so the agent has no directory for its loggers' credentials socket"
		log.Info("awslogs containers will be refused", "reason", settings.AWSLogsUnavailable)
		return nil
	}
	path := logcreds.SocketPath(cfg.APITokenFile)
	ln, err := logcreds.Listen(path)
	if err != nil {
		settings.AWSLogsUnavailable = err.Error()
		log.Error(err, "awslogs containers will be refused")
		return nil
	}
	settings.LogCredentialsSocket = path
	srv := &http.Server{
		Handler:           logcreds.Handler(src, secrets, log),
		ReadHeaderTimeout: 5 * time.Second,
		WriteTimeout:      30 * time.Second,
		MaxHeaderBytes:    8 << 10,
	}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error(err, "the loggers' credentials socket stopped")
		}
	}()
	log.Info("serving the loggers' credentials socket", "path", path)
	return &logCredentialsServer{srv: srv, path: path, log: log}
}

// Close stops serving; the socket file stays for the next agent to replace (loggers keep
// their credentials meanwhile).
func (s *logCredentialsServer) Close() {
	if s == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = s.srv.Shutdown(ctx)
}
