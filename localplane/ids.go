package localplane

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
)

// randomHex returns n random bytes as lower-case hex: the 32-character IDs ECS uses for
// tasks and container instances.
func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on Linux
	return hex.EncodeToString(b)
}

// newUUID returns a random (version 4) UUID, the form of ECS message and credential IDs.
func newUUID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// validName reports whether s is an ECS cluster, family or container name: 1-255 letters,
// digits, hyphens and underscores.
func validName(s string) bool {
	if s == "" || len(s) > 255 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

func isAccountID(s string) bool {
	if len(s) != 12 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// arns builds and parses the ARNs of one region and account.
type arns struct {
	region, account string
}

func (a arns) prefix() string { return "arn:aws:ecs:" + a.region + ":" + a.account + ":" }

func (a arns) cluster(name string) string { return a.prefix() + "cluster/" + name }

func (a arns) instance(cluster, id string) string {
	return a.prefix() + "container-instance/" + cluster + "/" + id
}

func (a arns) task(cluster, id string) string { return a.prefix() + "task/" + cluster + "/" + id }

func (a arns) container(cluster, taskID string) string {
	return a.prefix() + "container/" + cluster + "/" + taskID + "/" + newUUID()
}

func (a arns) taskDefinition(family string, revision int32) string {
	return fmt.Sprintf("%stask-definition/%s:%d", a.prefix(), family, revision)
}

// resource splits an ARN of this region and account into its resource type and the rest
// ("task", "prod/0123…"). ok is false for anything else, including other accounts.
func (a arns) resource(arn string) (typ, rest string, ok bool) {
	r, ok := strings.CutPrefix(arn, a.prefix())
	if !ok {
		return "", "", false
	}
	typ, rest, ok = strings.Cut(r, "/")
	return typ, rest, ok
}

// clusterName resolves a cluster reference (name or ARN; "" is "default") to a name.
func (a arns) clusterName(ref string) (string, bool) {
	if ref == "" {
		return "default", true
	}
	if !strings.HasPrefix(ref, "arn:") {
		return ref, validName(ref)
	}
	typ, name, ok := a.resource(ref)
	if !ok || typ != "cluster" || !validName(name) {
		return "", false
	}
	return name, true
}

// scoped resolves a reference to a cluster-scoped resource (a task or container
// instance: an ID or an ARN of either the long "<type>/<cluster>/<id>" or the old
// "<type>/<id>" form) to its long ARN in cluster.
func (a arns) scoped(typ, cluster, ref string) (string, bool) {
	if !strings.HasPrefix(ref, "arn:") {
		if ref == "" || strings.Contains(ref, "/") {
			return "", false
		}
		return a.prefix() + typ + "/" + cluster + "/" + ref, true
	}
	t, rest, ok := a.resource(ref)
	if !ok || t != typ {
		return "", false
	}
	if c, id, long := strings.Cut(rest, "/"); long {
		return a.prefix() + typ + "/" + c + "/" + id, true
	}
	return a.prefix() + typ + "/" + cluster + "/" + rest, true
}

// lastSegment is the ID at the end of an ARN.
func lastSegment(arn string) string { return arn[strings.LastIndexByte(arn, '/')+1:] }
