package objectapi

import (
	"bytes"
	"context"
	"net/url"
	"testing"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	api "github.com/ecsd/ecsd/api/v1alpha1"
)

// secrets are planted in every field of a task and its container that can hold one. Each
// is unique so a leak names itself.
var secrets = []string{
	"S3CRET-ROLE-CREDS-ID", "S3CRET-EXEC-CREDS-ID", "S3CRET-ENDPOINT-ID",
	"S3CRET-ENV-PASSWORD", "S3CRET-ENV-AWS-KEY", "S3CRET-ENV-TOKEN", "S3CRET-URL-PASS",
	"S3CRET-LOG-TOKEN", "S3CRET-VOLUME-PASS", "S3CRET-VOLUME-OPT", "S3CRET-CMD-PASS",
	"S3CRET-HEALTH-TOKEN", "S3CRET-LABEL-SECRET", "S3CRET-REASON-URL", "S3CRET-ERROR-TOKEN",
	"S3CRET-HISTORY-PASS", "S3CRET-STOPPED-URL", "S3CRET-HEALTH-OUTPUT",
}

func secretTask() *api.Task {
	t := webTask()
	t.Name, t.Labels = "sec1", taskLabels("sec1", "web")
	t.Spec.Containers = []string{"app"}
	t.Spec.RoleCredentialsID = "S3CRET-ROLE-CREDS-ID"
	t.Spec.ExecutionCredentialsID = "S3CRET-EXEC-CREDS-ID"
	t.Spec.Volumes = []api.Volume{{Name: "share", Type: "docker", Driver: "local",
		DriverOpts: map[string]string{"type": "cifs", "password": "S3CRET-VOLUME-PASS",
			"o": "addr=fs.example,username=u,password=S3CRET-VOLUME-OPT,vers=3.0"}}}
	t.Status.StoppedReason = "pull from https://bob:S3CRET-STOPPED-URL@registry.example/x failed"
	t.Status.History = []api.Transition{{From: "NONE", To: "STOPPED", Reason: "login --password=S3CRET-HISTORY-PASS failed"}}
	return t
}

func secretContainer() *api.Container {
	c := webApp()
	c.Name, c.Labels = "sec1-app", taskLabels("sec1", "web")
	c.Spec.TaskName = "sec1"
	c.Spec.EndpointID = "S3CRET-ENDPOINT-ID"
	c.Spec.Environment = map[string]string{
		"DB_PASSWORD":           "S3CRET-ENV-PASSWORD",
		"AWS_SECRET_ACCESS_KEY": "S3CRET-ENV-AWS-KEY",
		"GITHUB_TOKEN":          "S3CRET-ENV-TOKEN",
		"DATABASE_URL":          "postgres://app:S3CRET-URL-PASS@db:5432/app",
		"LOG_LEVEL":             "debug",
	}
	c.Spec.LogConfig = &api.LogConfig{Driver: "splunk", Options: map[string]string{"splunk-token": "S3CRET-LOG-TOKEN", "splunk-url": "https://splunk.example"}}
	c.Spec.Command = []string{"server", "--db-password=S3CRET-CMD-PASS", "--port=80"}
	c.Spec.HealthCheck = &api.HealthCheck{Test: []string{"CMD-SHELL", "curl -H x-api-token:S3CRET-HEALTH-TOKEN localhost"}}
	c.Spec.Labels = map[string]string{"vendor.secret": "S3CRET-LABEL-SECRET", "team": "web"}
	c.Spec.RegistryAuth = &api.RegistryAuth{Type: "asm", CredentialsParameter: "arn:aws:secretsmanager:us-west-2:111122223333:secret:registry"}
	c.Status.Reason = "CannotPullContainerError: https://u:S3CRET-REASON-URL@registry.example"
	c.Status.LastError = "auth failed: token=S3CRET-ERROR-TOKEN"
	c.Status.Health = &api.Health{Status: api.HealthUnhealthy, Output: "password=S3CRET-HEALTH-OUTPUT rejected"}
	return c
}

// checkNoSecret fails for every planted secret found in b.
func checkNoSecret(t *testing.T, what string, b []byte) {
	t.Helper()
	for _, s := range secrets {
		if bytes.Contains(b, []byte(s)) {
			t.Errorf("%s leaks %s:\n%s", what, s, b)
		}
	}
	if !bytes.Contains(b, []byte(Redacted)) {
		t.Errorf("%s shows no %s where the secrets were:\n%s", what, Redacted, b)
	}
}

// No response form leaks a secret: get, list (one namespace and all), watch, Table with
// the object, across both kinds that hold them.
func TestSecretsNeverLeak(t *testing.T) {
	e := newEnv(t, secretTask(), secretContainer())
	objectTable := tableAccept
	for _, res := range []string{"tasks/sec1", "containers/sec1-app"} {
		for _, tc := range []struct{ name, path, accept string }{
			{"get", nsPath + "/" + res, ""},
			{"get as Table with the object", nsPath + "/" + res + "?includeObject=Object", objectTable},
		} {
			code, b := e.get(tc.path, tc.accept)
			if code != 200 {
				t.Fatalf("%s %s: %d %s", tc.name, tc.path, code, b)
			}
			checkNoSecret(t, tc.name+" "+res, b)
		}
	}
	for _, res := range []string{"tasks", "containers"} {
		for _, tc := range []struct{ name, path, accept string }{
			{"list", nsPath + "/" + res, ""},
			{"list all namespaces", groupPath + "/" + res, ""},
			{"list as Table with objects", nsPath + "/" + res + "?includeObject=Object", objectTable},
		} {
			code, b := e.get(tc.path, tc.accept)
			if code != 200 {
				t.Fatalf("%s %s: %d %s", tc.name, tc.path, code, b)
			}
			checkNoSecret(t, tc.name+" "+res, b)
		}
		for _, accept := range []string{"", objectTable} {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			q := url.Values{"watch": {"true"}, "includeObject": {"Object"}}
			s := e.open(ctx, nsPath+"/"+res+"?"+q.Encode(), accept)
			ev := s.mustNext() // the initial ADDED
			checkNoSecret(t, "watch "+res+" "+accept, ev.Object)
			cancel()
		}
	}
	// A live watch event too.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s := e.open(ctx, nsPath+"/containers?watch=true&resourceVersion="+e.st.ResourceVersion(), "")
	setStatus(e, secretContainer(), func(c *api.Container) { c.Status.RestartCount++ })
	checkNoSecret(t, "watch event", s.mustNext().Object)

	// Redaction works on copies: the store still holds the secrets the engine needs.
	var c api.Container
	if err := e.st.Get(ctx, client.ObjectKeyFromObject(secretContainer()), &c); err != nil {
		t.Fatal(err)
	}
	if c.Spec.EndpointID != "S3CRET-ENDPOINT-ID" || c.Spec.Environment["DB_PASSWORD"] != "S3CRET-ENV-PASSWORD" {
		t.Errorf("the stored container was redacted: %+v", c.Spec)
	}
}

// What is not a secret stays readable.
func TestRedactionKeepsTheRest(t *testing.T) {
	e := newEnv(t, secretTask(), secretContainer())
	var c api.Container
	e.getJSON(nsPath+"/containers/sec1-app", "", &c)
	env := c.Spec.Environment
	if env["LOG_LEVEL"] != "debug" || env["DATABASE_URL"] != "postgres://app:<redacted>@db:5432/app" || env["DB_PASSWORD"] != Redacted {
		t.Errorf("environment %v", env)
	}
	if c.Spec.LogConfig.Options["splunk-url"] != "https://splunk.example" || c.Spec.Labels["team"] != "web" ||
		c.Spec.Command[2] != "--port=80" || c.Spec.Command[1] != "--db-password=<redacted>" ||
		c.Spec.RegistryAuth.CredentialsParameter == "" || c.Spec.Image != "nginx:1.27" {
		t.Errorf("spec %+v", c.Spec)
	}
	var task api.Task
	e.getJSON(nsPath+"/tasks/sec1", "", &task)
	if o := task.Spec.Volumes[0].DriverOpts["o"]; o != "addr=fs.example,username=u,password=<redacted>,vers=3.0" {
		t.Errorf("volume option o = %q", o)
	}
}

func TestRedactValue(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", ""},
		{"plain text", "plain text"},
		{"https://registry.example/v2/", "https://registry.example/v2/"},
		{"https://user@registry.example/", "https://user@registry.example/"},
		{"mysql://root:hunter2@db/app?x=1", "mysql://root:<redacted>@db/app?x=1"},
		{"--password=hunter2 --user=bob", "--password=<redacted> --user=bob"},
		{"a=1,client_secret=xyz,b=2", "a=1,client_secret=<redacted>,b=2"},
		{"?access_token=abc&x=1", "?access_token=<redacted>&x=1"},
		{"TOKEN=abc", "TOKEN=<redacted>"},
	} {
		if got := redactValue(tc.in); got != tc.want {
			t.Errorf("redactValue(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
