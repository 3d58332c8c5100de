package objectapi

import (
	"net/http"
	"strings"
	"testing"
)

// rawGet sends a GET with the given Authorization header (none when "") through a client
// that adds nothing.
func rawGet(t *testing.T, url, auth, accept string) (int, http.Header, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	var b []byte
	buf := make([]byte, 4096)
	for {
		n, err := resp.Body.Read(buf)
		b = append(b, buf[:n]...)
		if err != nil {
			break
		}
	}
	return resp.StatusCode, resp.Header, b
}

// Without the token nothing is answered: discovery, lists, objects, watches and logs all get
// 401 with a Bearer challenge, and the body says how to get the token.
func TestUnauthenticatedRefused(t *testing.T) {
	e := newEnv(t, fixture()...)
	e.writeLog("DB_PASS=hunter2\n")
	paths := []string{"/api", "/apis", groupPath, nsPath + "/tasks", nsPath + "/containers",
		nsPath + "/containers/web1-app", nsPath + "/containers?watch=true", logPath, logPath + "?follow=true",
		"/api/v1/namespaces/ecs", groupPath + "/nonsense"}
	for _, auth := range []string{"", "Bearer wrong-token", "Basic " + testToken, "Bearer " + testToken + "x"} {
		for _, p := range paths {
			for _, accept := range []string{"", tableAccept} {
				code, hdr, body := rawGet(t, e.srv.URL+p, auth, accept)
				if code != http.StatusUnauthorized || hdr.Get("WWW-Authenticate") != `Bearer realm="ecsd"` {
					t.Errorf("GET %s (Authorization %q, Accept %q): %d %q, want 401 with a Bearer challenge", p, auth, accept, code, hdr.Get("WWW-Authenticate"))
				}
				if strings.Contains(string(body), "hunter2") || !strings.Contains(string(body), "ecsctl token") {
					t.Errorf("GET %s: body %s", p, body)
				}
			}
		}
	}
	// With the token, the same paths answer.
	for _, p := range []string{"/apis", nsPath + "/containers/web1-app", logPath} {
		if code, _, body := rawGet(t, e.srv.URL+p, "Bearer "+testToken, ""); code != http.StatusOK {
			t.Errorf("GET %s with the token: %d %s", p, code, body)
		}
	}
}

// A handler whose agent could not load a token refuses even a request with an empty bearer.
func TestNoTokenConfiguredRefusesAll(t *testing.T) {
	e := newEnv(t, fixture()...)
	e.h.o.Token = (Options{}).Token
	if code, _, _ := rawGet(t, e.srv.URL+"/apis", "Bearer ", ""); code != http.StatusUnauthorized {
		t.Fatalf("GET /apis with no token configured: %d, want 401", code)
	}
}

// A host caller without the token reads discovery, Tables and the objects of kinds that hold
// no task's own data; never a container object (environment, command) or a log. A caller that
// is not one reads nothing.
func TestHostCallerReadsNoTaskSecrets(t *testing.T) {
	app := webApp()
	app.Spec.Environment = map[string]string{"DB_PASS": "hunter2"} // a name the redaction misses
	e := newEnv(t, webTask(), app, batchTask(), batchJob(), image(), attachment(), instance())
	e.writeLog("secret output\n")
	host := true
	e.h.o.HostCaller = func(*http.Request) bool { return host }
	for _, tc := range []struct {
		path, accept string
		want         int
	}{
		{"/apis", "", 200},
		{groupPath, "", 200},
		{"/api/v1/namespaces/ecs", "", 200},
		{nsPath + "/tasks", tableAccept, 200},
		{nsPath + "/tasks", "", 200},
		{nsPath + "/tasks/web1", "application/json", 200},
		{nsPath + "/tasks?watch=true&timeoutSeconds=1", "", 200},
		{nsPath + "/images", "", 200},
		{nsPath + "/instances/instance", "", 200},
		{nsPath + "/containers/web1-app", tableAccept, 200},
		{nsPath + "/containers?watch=true&timeoutSeconds=1", tableAccept, 200},
		{nsPath + "/containers", "application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io", 200},
		{nsPath + "/containers", "", 401},
		{nsPath + "/containers/web1-app", "application/json", 401},
		{nsPath + "/containers?includeObject=Object", tableAccept, 401},
		{nsPath + "/containers?watch=true", "", 401},
		{logPath, "", 401},
		{logPath, tableAccept, 401},
	} {
		code, _, body := rawGet(t, e.srv.URL+tc.path, "", tc.accept)
		if code != tc.want {
			t.Errorf("host caller GET %s (Accept %q): %d, want %d: %s", tc.path, tc.accept, code, tc.want, body)
		}
		for _, secret := range []string{"secret output", "hunter2"} {
			if strings.Contains(string(body), secret) {
				t.Errorf("host caller GET %s got %q", tc.path, secret)
			}
		}
	}
	host = false
	for _, p := range []string{nsPath + "/tasks", "/apis"} {
		if code, _, _ := rawGet(t, e.srv.URL+p, "", tableAccept); code != http.StatusUnauthorized {
			t.Errorf("a caller that is not a host caller got %s: %d", p, code)
		}
	}
}
