package lsm

import (
	"bufio"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// The policy's files, relative to the root.
const (
	selinuxConfigFile = "etc/selinux/config"
	// lxcContextsFile is where the policy (container-selinux) names the contexts of
	// container processes and files, under the policy type's directory.
	lxcContextsFile = "contexts/lxc_contexts"
	maxPolicyBytes  = 64 << 10
)

// ErrNoContainerPolicy: SELinux is enabled but its policy names no container contexts
// (no container-selinux), so there is no label a container could be given.
var ErrNoContainerPolicy = errors.New("the SELinux policy names no container contexts (is container-selinux installed?)")

// Context is an SELinux security context, user:role:type:level (the level, an MLS/MCS
// range such as "s0:c1,c2", may hold colons itself).
type Context struct {
	User, Role, Type, Level string
}

// ParseContext splits a context; it needs at least user, role and type.
func ParseContext(s string) (Context, error) {
	parts := strings.SplitN(s, ":", 4)
	if len(parts) < 3 || parts[0] == "" || parts[1] == "" || parts[2] == "" {
		return Context{}, fmt.Errorf("SELinux context %q is not user:role:type[:level]", s)
	}
	c := Context{User: parts[0], Role: parts[1], Type: parts[2]}
	if len(parts) == 4 {
		c.Level = parts[3]
	}
	return c, nil
}

func (c Context) String() string {
	s := c.User + ":" + c.Role + ":" + c.Type
	if c.Level != "" {
		s += ":" + c.Level
	}
	return s
}

// ContainerContexts returns the policy's contexts for container processes and for the
// files they may write (lxc_contexts' "process" and "file"), as container runtimes use
// them: Docker, podman and containerd's CRI read the same file.
func (h Host) ContainerContexts() (process, file Context, err error) {
	policy, err := readKeyValues(h.path(selinuxConfigFile))
	if err != nil {
		return Context{}, Context{}, fmt.Errorf("read the SELinux configuration: %w", err)
	}
	typ := policy["SELINUXTYPE"]
	if typ == "" || strings.ContainsAny(typ, "/.") {
		return Context{}, Context{}, fmt.Errorf("the SELinux configuration names no usable SELINUXTYPE (%q)", typ)
	}
	ctx, err := readKeyValues(h.path("etc/selinux/" + typ + "/" + lxcContextsFile))
	if errors.Is(err, os.ErrNotExist) || (err == nil && (ctx["process"] == "" || ctx["file"] == "")) {
		return Context{}, Context{}, ErrNoContainerPolicy
	}
	if err != nil {
		return Context{}, Context{}, fmt.Errorf("read the container contexts: %w", err)
	}
	if process, err = ParseContext(ctx["process"]); err != nil {
		return Context{}, Context{}, err
	}
	if file, err = ParseContext(ctx["file"]); err != nil {
		return Context{}, Context{}, err
	}
	return process, file, nil
}

// readKeyValues reads KEY=VALUE and key = "value" lines, skipping comments.
func readKeyValues(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(io.LimitReader(f, maxPolicyBytes))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		out[strings.TrimSpace(k)] = strings.Trim(strings.TrimSpace(v), `"`)
	}
	return out, sc.Err()
}

// mcsCategories is how many categories container labels draw from (c0 … c1023), as
// Docker and podman do.
const mcsCategories = 1024

// ContainerLabels returns the process label and the mount label of a container, Docker's
// way: the policy's container contexts with a level of two categories of its own, so one
// container's processes cannot touch another's files, then the dockerSecurityOptions
// "label:user:U", "label:role:R", "label:type:T" (the process's type) and
// "label:level:L" (both labels' level) on top. The categories come from seed (the
// container's runtime ID), so the labels are the same every time they are computed, also
// after an agent restart, with no table of categories in use to keep.
func ContainerLabels(process, file Context, seed string, options []string) (processLabel, mountLabel string, err error) {
	sum := sha256.Sum256([]byte(seed))
	a := binary.BigEndian.Uint32(sum[:4]) % mcsCategories
	b := binary.BigEndian.Uint32(sum[4:8]) % (mcsCategories - 1)
	if b >= a {
		b++ // a different category, uniformly
	}
	a, b = min(a, b), max(a, b)
	sens := "s0"
	if process.Level != "" {
		sens, _, _ = strings.Cut(process.Level, ":")
		sens, _, _ = strings.Cut(sens, "-")
	}
	level := fmt.Sprintf("%s:c%d,c%d", sens, a, b)
	process.Level, file.Level = level, level
	for _, o := range options {
		k, v, ok := strings.Cut(o, ":")
		if !ok || v == "" {
			return "", "", fmt.Errorf("label option %q is not key:value", o)
		}
		switch k {
		case "user":
			process.User = v
		case "role":
			process.Role = v
		case "type":
			process.Type = v
		case "level":
			process.Level, file.Level = v, v
		default:
			return "", "", fmt.Errorf("label option %q: want user, role, type, level or disable", o)
		}
	}
	return process.String(), file.String(), nil
}

// SELinuxLabels returns the labels of the container seed with options (ContainerLabels)
// from this host's policy.
func (h Host) SELinuxLabels(seed string, options []string) (process, mount string, err error) {
	p, f, err := h.ContainerContexts()
	if err != nil {
		return "", "", err
	}
	return ContainerLabels(p, f, seed, options)
}
