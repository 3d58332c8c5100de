//go:build integration

package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const (
	routeLocalnet        = "net/ipv4/conf/all/route_localnet"
	routeLocalnetDefault = "net/ipv4/conf/default/route_localnet"
)

// TestPreStartPostStop runs the full cycle with default settings: pre-start installs exactly
// the spec's rules, sets route_localnet and creates the directories; a second pre-start
// changes nothing; post-stop restores both families' tables byte for byte and
// route_localnet; a second post-stop is a no-op that succeeds.
func TestPreStartPostStop(t *testing.T) {
	n := newNetns(t)
	seed(t, n)
	dir := t.TempDir()
	root := filepath.Join(dir, "root")
	env := baseEnv(t, dir)

	before4, before6 := save(t, n, 4), save(t, n, 6)
	if v := n.sysctl(t, routeLocalnet); v != "0" {
		t.Fatalf("fresh namespace: route_localnet = %s, want 0", v)
	}
	def := n.sysctl(t, routeLocalnetDefault)

	n.mustEcsInit(t, env, "pre-start", "--root", root)
	want4, want6 := expected(t, before4, before6, want{})
	checkRules(t, n, want4, want6)
	if v := n.sysctl(t, routeLocalnet); v != "1" {
		t.Errorf("after pre-start: route_localnet = %s, want 1", v)
	}
	if out := n.output(t, "ip", "-4", "route", "show", "table", "main", "exact", "169.254.170.2/32"); out != "" {
		t.Errorf("not an IPv6-only host, yet a route for 169.254.170.2: %q", out)
	}
	for p, mode := range map[string]os.FileMode{
		"etc/ecs": 0o755, "var/lib/ecs": 0o755, "var/log/ecs": 0o755, "var/lib/ecs/data": 0o700,
	} {
		fi, err := os.Stat(filepath.Join(root, p))
		if err != nil || !fi.IsDir() || fi.Mode().Perm() != mode {
			t.Errorf("%s: %v, want a directory with mode %v", p, err, mode)
		}
	}

	after4, after6 := save(t, n, 4), save(t, n, 6)
	res := n.mustEcsInit(t, env, "pre-start", "--root", root)
	if got4, got6 := save(t, n, 4), save(t, n, 6); got4 != after4 || got6 != after6 {
		t.Errorf("second pre-start changed the tables:\n%s%s\nwas:\n%s%s", got4, got6, after4, after6)
	}
	if strings.Contains(res.stderr, "added rule") || strings.Contains(res.stderr, "set sysctl") {
		t.Errorf("second pre-start reports changes:\n%s", res.stderr)
	}

	n.mustEcsInit(t, env, "post-stop")
	if got4, got6 := save(t, n, 4), save(t, n, 6); got4 != before4 || got6 != before6 {
		t.Errorf("after post-stop:\n%s%s\nwant the original:\n%s%s", got4, got6, before4, before6)
	}
	if v := n.sysctl(t, routeLocalnet); v != def {
		t.Errorf("after post-stop: route_localnet = %s, want the default %s", v, def)
	}

	res = n.mustEcsInit(t, env, "post-stop")
	if got4, got6 := save(t, n, 4), save(t, n, 6); got4 != before4 || got6 != before6 {
		t.Errorf("second post-stop changed the tables")
	}
	if strings.Contains(res.stderr, "deleted rule") {
		t.Errorf("second post-stop reports deletions:\n%s", res.stderr)
	}
}

// TestSettingsChangeRules covers the two switches (from the environment and from the
// ecs.config file, read through config.Load like the agent does) and the bridge name (from
// ECSD_BRIDGE_NAME and --bridge). Post-stop always runs with other switches than pre-start,
// and still restores the original tables: it removes whatever pre-start could have added.
func TestSettingsChangeRules(t *testing.T) {
	for _, tc := range []struct {
		name       string
		file       string   // ecs.config content
		env        []string // pre-start environment
		args       []string // pre-start and post-stop flags
		postEnv    []string
		want       want
		wantInLogs string
	}{
		{
			name:    "skip localhost filter",
			env:     []string{"ECS_SKIP_LOCALHOST_TRAFFIC_FILTER=true"},
			postEnv: []string{"ECS_SKIP_LOCALHOST_TRAFFIC_FILTER=false"},
			want:    want{skipFilter: true},
		},
		{
			name:    "allow off-host introspection",
			env:     []string{"ECS_ALLOW_OFFHOST_INTROSPECTION_ACCESS=true"},
			postEnv: []string{"ECS_ALLOW_OFFHOST_INTROSPECTION_ACCESS=false"},
			want:    want{allowIntro: true},
		},
		{
			name:    "both from ecs.config",
			file:    "ECS_SKIP_LOCALHOST_TRAFFIC_FILTER=true\nECS_ALLOW_OFFHOST_INTROSPECTION_ACCESS=true\n",
			postEnv: nil,
			want:    want{skipFilter: true, allowIntro: true},
		},
		{
			name:    "defaults, switches set at post-stop",
			postEnv: []string{"ECS_SKIP_LOCALHOST_TRAFFIC_FILTER=true", "ECS_ALLOW_OFFHOST_INTROSPECTION_ACCESS=true"},
		},
		{
			name:       "environment beats ecs.config, bad value warns",
			file:       "ECS_SKIP_LOCALHOST_TRAFFIC_FILTER=true\n",
			env:        []string{"ECS_SKIP_LOCALHOST_TRAFFIC_FILTER=false", "ECS_ALLOW_OFFHOST_INTROSPECTION_ACCESS=maybe"},
			wantInLogs: "ECS_ALLOW_OFFHOST_INTROSPECTION_ACCESS",
		},
		{
			name:    "bridge from ECSD_BRIDGE_NAME",
			env:     []string{"ECSD_BRIDGE_NAME=br-tasks"},
			postEnv: []string{"ECSD_BRIDGE_NAME=br-tasks"},
			want:    want{bridge: "br-tasks"},
		},
		{
			name:    "--bridge beats ECSD_BRIDGE_NAME",
			env:     []string{"ECSD_BRIDGE_NAME=br-env"},
			args:    []string{"--bridge", "br-flag"},
			postEnv: []string{"ECSD_BRIDGE_NAME=br-env"},
			want:    want{bridge: "br-flag"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := newNetns(t)
			seed(t, n)
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "ecs.config"), []byte(tc.file), 0o644); err != nil {
				t.Fatal(err)
			}
			before4, before6 := save(t, n, 4), save(t, n, 6)

			res := n.mustEcsInit(t, baseEnv(t, dir, tc.env...),
				append([]string{"pre-start", "--root", filepath.Join(dir, "root")}, tc.args...)...)
			want4, want6 := expected(t, before4, before6, tc.want)
			checkRules(t, n, want4, want6)
			if tc.wantInLogs != "" && !strings.Contains(res.stderr, tc.wantInLogs) {
				t.Errorf("pre-start logs lack %q:\n%s", tc.wantInLogs, res.stderr)
			}

			n.mustEcsInit(t, baseEnv(t, dir, tc.postEnv...), append([]string{"post-stop"}, tc.args...)...)
			if got4, got6 := save(t, n, 4), save(t, n, 6); got4 != before4 || got6 != before6 {
				t.Errorf("after post-stop:\n%s%s\nwant the original:\n%s%s", got4, got6, before4, before6)
			}
		})
	}
}

// TestPreStartRepairsPartialState starts from what an interrupted run or the reference
// ecs-init can leave: the bridge ACCEPT without the DROP it is an exception to, and the DNAT
// rule twice. Pre-start must put the ACCEPT back above the DROP, and post-stop must remove
// every copy.
func TestPreStartRepairsPartialState(t *testing.T) {
	n := newNetns(t)
	seed(t, n)
	dir := t.TempDir()
	env := baseEnv(t, dir)
	before4, before6 := save(t, n, 4), save(t, n, 6)
	n.sh(t, `
		iptables -w -t filter -I INPUT 1 -p tcp --dport 51678 -i ecsd0 -j ACCEPT
		ip6tables -w -t filter -I INPUT 1 -p tcp --dport 51678 -i ecsd0 -j ACCEPT
		iptables -w -t nat -A PREROUTING -p tcp -d 169.254.170.2 --dport 80 -j DNAT --to-destination 127.0.0.1:51679
		iptables -w -t nat -A PREROUTING -p tcp -d 169.254.170.2 --dport 80 -j DNAT --to-destination 127.0.0.1:51679
	`)

	n.mustEcsInit(t, env, "pre-start", "--root", filepath.Join(dir, "root"))
	want4, want6 := expected(t, before4, before6, want{})
	want4["nat"]["PREROUTING"] = append(want4["nat"]["PREROUTING"], ruleDNAT) // the duplicate stays
	checkRules(t, n, want4, want6)

	n.mustEcsInit(t, env, "post-stop")
	if got4, got6 := save(t, n, 4), save(t, n, 6); got4 != before4 || got6 != before6 {
		t.Errorf("after post-stop:\n%s%s\nwant the original:\n%s%s", got4, got6, before4, before6)
	}
}
