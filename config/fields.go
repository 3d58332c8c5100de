package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// field describes one Config field, from its `env` tag. The table is derived from the struct
// on every call instead of being cached in a package variable: it is cheap, and it keeps the
// package free of mutable state.
type field struct {
	index  int
	name   string // Go field name = JSON key
	env    string // variable name; "" for derived fields
	trim   bool
	fatal  bool
	secret bool
	csv    bool
	custom bool
}

func fields() []field {
	t := reflect.TypeFor[Config]()
	out := make([]field, 0, t.NumField())
	for i := range t.NumField() {
		sf := t.Field(i)
		tag := sf.Tag.Get("env")
		f := field{index: i, name: sf.Name}
		if tag != "-" {
			parts := strings.Split(tag, ",")
			f.env = parts[0]
			for _, opt := range parts[1:] {
				switch opt {
				case "trim":
					f.trim = true
				case "fatal":
					f.fatal = true
				case "secret":
					f.secret = true
				case "csv":
					f.csv = true
				case "custom":
					f.custom = true
				}
			}
		}
		out = append(out, f)
	}
	return out
}

// isSecretName applies the naming rule for values that are never printed.
func isSecretName(env string) bool {
	u := strings.ToUpper(env)
	return strings.Contains(u, "PASSWORD") || strings.Contains(u, "SECRET") || strings.Contains(u, "TOKEN")
}

func (f field) sensitive() bool { return f.secret || isSecretName(f.env) }

// shown is the value as it may appear in messages.
func (f field) shown(v string) string {
	if f.sensitive() && v != "" {
		return redacted
	}
	return v
}

// Accepted-value descriptions, shared by env parsing messages and tests.
const (
	msgDuration  = "not a duration (examples: 30s, 2m, 1h30m)"
	msgBool      = "not a boolean (accepted: true, false, 1, 0, t, f)"
	msgInt       = "not an integer"
	msgUint16    = "not an integer in 0-65535"
	msgFloat     = "not a number (examples: 5, 2.5)"
	msgPorts     = "not a JSON array of port numbers 0-65535 (example: [22, 80])"
	msgStrings   = `not a JSON array of strings (example: ["a", "b"])`
	msgDrivers   = `not a JSON array of log driver names (example: ["json-file", "awslogs"])`
	msgCIDR      = `not a CIDR block (example: 172.17.0.0/16)`
	msgCIDRs     = `not a JSON array of CIDR blocks (example: ["10.0.15.0/24"])`
	msgStringMap = `not a JSON object of string values (example: {"stack": "prod"})`
	msgPortRange = "not a port range start-end with 1 <= start <= end <= 65535 (example: 49153-65535)"
	msgRPSLimit  = `not "steady,burst" positive integers (example: 40,60)`
)

// decodeEnv parses one variable's text into the field it belongs to. The returned error is
// the accepted-values message (plus a parser detail for JSON values).
func decodeEnv(f field, raw string, dst reflect.Value) error {
	s := strings.TrimSpace(raw)
	switch p := dst.Addr().Interface().(type) {
	case *string:
		*p = raw
		if f.trim {
			*p = s
		}
	case *Sensitive:
		*p = Sensitive(raw)
	case *ProxyURL:
		*p = ProxyURL(raw)
	case *time.Duration:
		d, err := time.ParseDuration(s)
		if err != nil {
			return errors.New(msgDuration)
		}
		*p = d
	case *int:
		v, err := strconv.Atoi(s)
		if err != nil {
			return errors.New(msgInt)
		}
		*p = v
	case *uint16:
		v, err := strconv.ParseUint(s, 10, 16)
		if err != nil {
			return errors.New(msgUint16)
		}
		*p = uint16(v)
	case *float64:
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return errors.New(msgFloat)
		}
		*p = v
	case *BooleanDefaultFalse:
		v, err := strconv.ParseBool(s)
		if err != nil {
			return errors.New(msgBool)
		}
		p.Value = conditionalOf(v)
	case *BooleanDefaultTrue:
		v, err := strconv.ParseBool(s)
		if err != nil {
			return errors.New(msgBool)
		}
		p.Value = conditionalOf(v)
	case *[]uint16:
		return decodeJSON(s, p, msgPorts)
	case *[]string:
		if f.csv {
			*p = strings.Split(raw, ",")
			return nil
		}
		return decodeJSON(s, p, msgStrings)
	case *[]LoggingDriver:
		return decodeJSON(s, p, msgDrivers)
	case *[]netip.Prefix:
		return decodeJSON(s, p, msgCIDRs)
	case *netip.Prefix:
		v, err := netip.ParsePrefix(s)
		if err != nil || !v.Addr().Is4() || v.Bits() > 30 {
			return errors.New(msgCIDR + ", IPv4, at most /30")
		}
		*p = v.Masked()
	case *map[string]string:
		return decodeJSON(s, p, msgStringMap)
	case *PortRange:
		r, err := ParsePortRange(s)
		if err != nil {
			return errors.New(msgPortRange)
		}
		*p = r
	case *ImagePullBehaviorType:
		*p = ImagePullBehaviorType(strings.ToLower(s))
	case *ContainerInstancePropagateTagsFromType:
		*p = ContainerInstancePropagateTagsFromType(s)
	case *IPCompatibility:
		*p = IPCompatibility(strings.ToLower(s))
	default:
		return fmt.Errorf("unsupported field type %s", dst.Type())
	}
	return nil
}

// decodeJSON decodes into a fresh value so a failed parse leaves the field unset.
func decodeJSON[T any](s string, dst *T, accepted string) error {
	var v T
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		return fmt.Errorf("%s: %w", accepted, err)
	}
	*dst = v
	return nil
}

// isUnset is the reference agent's notion of "zero": the zero value, or an empty list or map.
func isUnset(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Slice, reflect.Map:
		return v.Len() == 0
	default:
		return v.IsZero()
	}
}

// display renders a field's value for String/Redacted: durations as Go durations, lists and
// maps as JSON, booleans as their effective value, secrets as <redacted>.
func display(f field, v reflect.Value) string {
	if f.sensitive() {
		if isUnset(v) {
			return ""
		}
		return redacted
	}
	switch x := v.Interface().(type) {
	case string:
		return x
	case time.Duration:
		return fmtDuration(x)
	case int:
		return strconv.Itoa(x)
	case uint16:
		return strconv.FormatUint(uint64(x), 10)
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case fmt.Stringer:
		return x.String()
	case []string:
		if f.csv {
			return strings.Join(x, ",")
		}
	}
	if v.Kind() == reflect.String {
		return v.String()
	}
	if isUnset(v) && (v.Kind() == reflect.Slice || v.Kind() == reflect.Map) {
		if v.Kind() == reflect.Map {
			return "{}"
		}
		return "[]"
	}
	b, err := json.Marshal(v.Interface())
	if err != nil {
		return fmt.Sprint(v.Interface())
	}
	return string(b)
}
