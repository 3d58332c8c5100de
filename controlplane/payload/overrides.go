package payload

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/ecsd/ecsd/api/v1alpha1"
)

// applyOverrides applies container.overrides, a JSON document whose only known member is
// "command" (which replaces the command, as in the reference agent). The reference agent
// refuses overrides with members it does not know, and so does this: an override that was
// not applied would run the container differently than asked.
func applyOverrides(s *v1alpha1.ContainerSpec, o *EmbeddedJSON) error {
	if o.empty() {
		return nil
	}
	var members map[string]json.RawMessage
	if err := json.Unmarshal([]byte(*o), &members); err != nil {
		return fmt.Errorf("overrides: %w: %w", ErrInvalidJSON, err)
	}
	var unknown []string
	for k, raw := range members {
		if !strings.EqualFold(k, "command") {
			unknown = append(unknown, k)
			continue
		}
		var cmd *[]string
		if err := json.Unmarshal(raw, &cmd); err != nil {
			return fmt.Errorf("overrides.command: %w: %w", ErrInvalidJSON, err)
		}
		if cmd != nil {
			s.Command = append([]string{}, (*cmd)...)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return fmt.Errorf("overrides: %s: %w", strings.Join(unknown, ", "), ErrUnsupported)
	}
	return nil
}
