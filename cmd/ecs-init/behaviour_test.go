//go:build integration

package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// reply is what the stand-in agent listeners answer, so a test knows which listener it
// reached.
const reply = "ecsd-agent"

// endpoint is the task credentials endpoint the redirect rules are about.
const endpoint = "169.254.170.2:80"

// Generous bounds for single operations that normally finish in microseconds; reaching one
// fails the test, nothing waits for them to pass.
const (
	ioTimeout   = 10 * time.Second
	waitTimeout = 30 * time.Second
)

// serve accepts connections on l until it is closed, answering each with reply.
func serve(t *testing.T, l net.Listener) {
	t.Helper()
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(ioTimeout))
				if _, err := bufio.NewReader(c).ReadString('\n'); err == nil {
					fmt.Fprintln(c, reply)
				}
			}()
		}
	}()
}

// listen starts a stand-in agent listener on addr inside n.
func listen(t *testing.T, n *netns, addr string) {
	t.Helper()
	var l net.Listener
	if err := n.do(func() (err error) {
		l, err = net.Listen("tcp", addr)
		return err
	}); err != nil {
		t.Fatalf("listen on %s in %s: %v", addr, n.name, err)
	}
	serve(t, l)
}

// call connects to addr from inside n and returns the listener's answer, or the error.
func call(ctx context.Context, n *netns, addr string) (string, error) {
	var conn net.Conn
	err := n.do(func() (err error) {
		conn, err = (&net.Dialer{}).DialContext(ctx, "tcp", addr)
		return err
	})
	if err != nil {
		return "", err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(ioTimeout))
	if _, err := fmt.Fprintln(conn, "hello"); err != nil {
		return "", err
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	return strings.TrimSpace(line), err
}

// mustReach fails unless a connection from n to addr reaches a stand-in agent listener.
func mustReach(t *testing.T, n *netns, addr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), ioTimeout)
	defer cancel()
	got, err := call(ctx, n, addr)
	if err != nil || got != reply {
		t.Errorf("from %s to %s: %q, %v; want the agent's %q", n.name, addr, got, err, reply)
	}
}

// mustFail fails unless a connection from n to the endpoint fails with want.
func mustFail(t *testing.T, n *netns, want error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), ioTimeout)
	defer cancel()
	got, err := call(ctx, n, endpoint)
	if !errors.Is(err, want) {
		t.Errorf("from %s to %s: %q, %v; want error %v", n.name, endpoint, got, err, want)
	}
}

// mustBeDropped starts a connection from n to addr and waits until the rule's packet counter
// in host moves, proving the SYN met the DROP; the connection must not succeed meanwhile.
func mustBeDropped(t *testing.T, n, host *netns, v int, addr, rule string) {
	t.Helper()
	start := packets(t, host, v, "filter", rule)
	if start < 0 {
		t.Fatalf("rule %q missing in %s", rule, host.name)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		got, err := call(ctx, n, addr)
		if err == nil {
			err = fmt.Errorf("connected and got %q", got)
		} else if ctx.Err() != nil {
			err = nil // cancelled below, as intended
		}
		done <- err
	}()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for packets(t, host, v, "filter", rule) == start {
		select {
		case err := <-done:
			t.Fatalf("from %s to %s: the connection ended before the DROP counted it: %v", n.name, addr, err)
		case <-ctx.Done():
			t.Fatalf("from %s to %s: the DROP rule never counted a packet", n.name, addr)
		case <-tick.C:
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("from %s to %s: %v", n.name, addr, err)
	}
}

// topology is a host under test with an off-host neighbour and a bridge-mode task:
//
//	off (10.98.0.2, fd00:98::2, owns 169.254.170.2) ── ext0 ── host ── ecsd0 (10.99.0.1) ── task (10.99.0.2)
//
// The host forwards, like any host with a task bridge, and its IPv4 default route goes to
// off, which holds 169.254.170.2 itself with nothing listening: without the rules,
// connections from the host and the task are refused at once instead of reaching the agent.
type topology struct {
	host, off, task *netns
}

func newTopology(t *testing.T) topology {
	t.Helper()
	tp := topology{host: newNetns(t), off: newNetns(t), task: newNetns(t)}
	tp.host.sh(t, fmt.Sprintf(`
		ip link add ext0 type veth peer name eth0 netns %s
		ip addr add 10.98.0.1/24 dev ext0
		ip addr add fd00:98::1/64 dev ext0 nodad
		ip link set ext0 up
		ip link add ecsd0 type bridge
		ip addr add 10.99.0.1/24 dev ecsd0
		ip link set ecsd0 up
		ip link add veth-task type veth peer name eth0 netns %s
		ip link set veth-task master ecsd0
		ip link set veth-task up
	`, tp.off.name, tp.task.name))
	tp.off.sh(t, `
		ip addr add 10.98.0.2/24 dev eth0
		ip addr add fd00:98::2/64 dev eth0 nodad
		ip addr add 169.254.170.2/32 dev eth0
		ip link set eth0 up
		ip route add 10.99.0.0/24 via 10.98.0.1 dev eth0
	`)
	tp.host.sh(t, `
		ip route add default via 10.98.0.2 dev ext0
		sysctl -q -w net.ipv4.ip_forward=1
	`)
	tp.task.sh(t, `
		ip addr add 10.99.0.2/24 dev eth0
		ip link set eth0 up
		ip route add default via 10.99.0.1 dev eth0
	`)
	return tp
}

// TestTrafficReachesTheAgent checks what the rules are for, with real connections:
// host-network processes (nat OUTPUT) and bridge-mode tasks (nat PREROUTING, route_localnet,
// the localhost filter's DNAT exception) reach the agent at 169.254.170.2:80; the task
// bridge reaches introspection while the off-host neighbour is dropped, over IPv4 and IPv6.
// After post-stop, all of it is gone.
func TestTrafficReachesTheAgent(t *testing.T) {
	tp := newTopology(t)
	seed(t, tp.host)
	listen(t, tp.host, "127.0.0.1:51679")
	listen(t, tp.host, ":51678")
	dir := t.TempDir()
	env := baseEnv(t, dir)

	mustFail(t, tp.host, syscall.ECONNREFUSED) // off answers: nothing redirects yet
	mustFail(t, tp.task, syscall.ECONNREFUSED)
	mustReach(t, tp.off, "10.98.0.1:51678") // nothing blocks introspection yet

	tp.host.mustEcsInit(t, env, "pre-start", "--root", filepath.Join(dir, "root"))
	if v := tp.host.sysctl(t, "net/ipv6/conf/ecsd0/accept_ra"); v != "0" {
		t.Errorf("accept_ra on the task bridge = %s, want 0", v)
	}
	mustReach(t, tp.host, endpoint)
	mustReach(t, tp.task, endpoint)
	mustReach(t, tp.task, "10.99.0.1:51678")
	mustReach(t, tp.host, "127.0.0.1:51678")
	mustBeDropped(t, tp.off, tp.host, 4, "10.98.0.1:51678", ruleIntroDrop)
	mustBeDropped(t, tp.off, tp.host, 6, "[fd00:98::1]:51678", ruleIntroDrop)

	tp.host.mustEcsInit(t, env, "post-stop")
	mustFail(t, tp.host, syscall.ECONNREFUSED)
	mustFail(t, tp.task, syscall.ECONNREFUSED)
	mustReach(t, tp.off, "10.98.0.1:51678")
	mustReach(t, tp.off, "[fd00:98::1]:51678")
}
