package config

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// engineAuth parses EngineAuthData according to EngineAuthType into EngineAuth. Every
// problem is a warning that leaves registry auth off, as in the reference agent. Messages
// never include the data, not even a parser's excerpt of it.
func (l *loader) engineAuth(c *Config) {
	c.EngineAuth = nil
	typ, data := c.EngineAuthType, strings.TrimSpace(string(c.EngineAuthData))
	dataFrom := l.from("EngineAuthData")
	switch {
	case typ == "" && data == "":
		return
	case typ == "":
		l.warn("ECS_ENGINE_AUTH_DATA", redacted, dataFrom,
			"set without ECS_ENGINE_AUTH_TYPE (accepted: docker, dockercfg); registry auth disabled")
		return
	case typ != "docker" && typ != "dockercfg":
		l.warn("ECS_ENGINE_AUTH_TYPE", typ, l.from("EngineAuthType"),
			"accepted: docker, dockercfg; registry auth disabled")
		return
	case data == "":
		l.warn("ECS_ENGINE_AUTH_DATA", "", dataFrom,
			"empty while ECS_ENGINE_AUTH_TYPE="+typ+"; registry auth disabled")
		return
	}
	auth, err := ParseEngineAuth(typ, data)
	if err != nil {
		l.warn("ECS_ENGINE_AUTH_DATA", redacted, dataFrom, err.Error()+"; registry auth disabled")
		return
	}
	c.EngineAuth = auth
}

// ParseEngineAuth parses ECS_ENGINE_AUTH_DATA. For "docker" the document maps a registry to
// {"username","password","email"}; for "dockercfg" (the legacy ~/.dockercfg) to
// {"auth": base64("user:pass"), "email"}. A leading http:// or https:// is removed from
// registry keys so they compare equal to image reference hosts. Errors describe the problem
// without quoting the data.
func ParseEngineAuth(typ, data string) (map[string]RegistryAuth, error) {
	var doc map[string]struct {
		Username string `json:"username"`
		Password string `json:"password"`
		Email    string `json:"email"`
		Auth     string `json:"auth"`
	}
	if err := json.Unmarshal([]byte(data), &doc); err != nil {
		msg := `not a JSON object of registry to credentials (example: {"my.registry.example": {"username": "u", "password": "p"}})`
		var syn *json.SyntaxError
		if errors.As(err, &syn) {
			msg += fmt.Sprintf(": invalid JSON at byte %d", syn.Offset)
		}
		return nil, errors.New(msg)
	}
	out := make(map[string]RegistryAuth, len(doc))
	for registry, e := range doc {
		host := strings.TrimPrefix(strings.TrimPrefix(registry, "https://"), "http://")
		a := RegistryAuth{Username: e.Username, Password: Sensitive(e.Password), Email: e.Email}
		// dockercfg always uses "auth"; accept it for docker too when no username is given.
		if typ == "dockercfg" || (a.Username == "" && a.Password == "" && e.Auth != "") {
			user, pass, err := decodeBasicAuth(e.Auth)
			if err != nil {
				return nil, fmt.Errorf("registry %q: %w", host, err)
			}
			a.Username, a.Password = user, Sensitive(pass)
		}
		out[host] = a
	}
	return out, nil
}

func decodeBasicAuth(s string) (string, string, error) {
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
	if err != nil {
		return "", "", errors.New(`"auth" is not base64 of user:password`)
	}
	user, pass, ok := strings.Cut(string(raw), ":")
	if !ok {
		return "", "", errors.New(`"auth" does not decode to user:password`)
	}
	return user, pass, nil
}
