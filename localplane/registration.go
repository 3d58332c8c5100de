package localplane

import (
	"encoding/json"
	"sort"
	"strings"
)

// What RegisterContainerInstance checks and merges.

// checkAttribute applies ECS's attribute rules, which the reference agent's error message
// quotes: name 1-128 of [A-Za-z0-9-_/.], value 1-128 of letters, digits, "-_.@/\:" and
// space, without leading or trailing space.
func checkAttribute(a attribute) error {
	okName := a.Name != "" && len(a.Name) <= 128 && strings.IndexFunc(a.Name, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_/.", r))
	}) < 0
	if !okName {
		return errClient("Attribute name %q is invalid.", a.Name)
	}
	if a.Value == "" {
		return nil
	}
	okValue := len(a.Value) <= 128 && strings.TrimSpace(a.Value) == a.Value &&
		strings.IndexFunc(a.Value, func(r rune) bool {
			return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_.@/\\: ", r))
		}) < 0
	if !okValue {
		return errClient("Attribute %q has an invalid value.", a.Name)
	}
	return nil
}

// mergeAttributes keeps earlier attributes (custom attributes are only sent on the first
// registration) and lets the new ones win, then adds the availability zone unless the
// agent sent one itself: the agent checks that everything it sent comes back unchanged.
func mergeAttributes(old, sent []attribute, az string) []attribute {
	byName := map[string]attribute{}
	for _, a := range old {
		byName[a.Name] = attribute{Name: a.Name, Value: a.Value}
	}
	for _, a := range sent {
		byName[a.Name] = attribute{Name: a.Name, Value: a.Value}
	}
	if !containsAttr(sent, attrAvailabilityZone) {
		byName[attrAvailabilityZone] = attribute{Name: attrAvailabilityZone, Value: az}
	}
	out := make([]attribute, 0, len(byName))
	for _, a := range byName {
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func containsAttr(list []attribute, name string) bool {
	for _, a := range list {
		if a.Name == name {
			return true
		}
	}
	return false
}

// normalizeResources gives STRINGSET resources a non-nil set, so they render as [].
func normalizeResources(rs []resource) []resource {
	out := make([]resource, len(rs))
	for i, r := range rs {
		if r.Type == "STRINGSET" && r.StringSetValue == nil {
			r.StringSetValue = []string{}
		}
		out[i] = r
	}
	return out
}

// identityDocument is the part of the EC2 instance identity document ECS reads.
type identityDocument struct {
	InstanceID       string `json:"instanceId"`
	AvailabilityZone string `json:"availabilityZone"`
}

// parseIdentityDocument reads the document if there is one. It is not checked against
// its signature: there is no EC2 here to vouch for it.
func parseIdentityDocument(doc string) identityDocument {
	var d identityDocument
	if doc != "" {
		_ = json.Unmarshal([]byte(doc), &d)
	}
	return d
}
