// Package config loads ecsd's configuration: every ECS_* variable the reference ECS container
// agent (and, where they apply to the same host, its ecs-init companion) reads on Linux, plus a
// few ecsd-only ECSD_* settings.
//
// ecsd plays the role of both ecs-init and the agent, so it reads the ecs-init KEY=VALUE file
// itself instead of relying on an init process to turn it into environment variables. Sources,
// highest precedence first:
//
//  1. the process environment,
//  2. the KEY=VALUE file (default /etc/ecs/ecs.config, see ECSD_CONFIG_FILE),
//  3. the JSON file named by ECS_AGENT_CONFIG_FILE_PATH (Go field names as keys),
//  4. built-in defaults (see Defaults).
//
// Like the reference agent, the configuration is merged one field at a time and a field is
// only taken from a lower source while it is still zero, so setting a value to its zero (0,
// 0s, empty) selects the default. Unlike the reference agent, nothing here talks to the
// network: no instance metadata, no user data. A caller that wants the region from IMDS passes
// a fallback with WithRegionFallback.
//
// Load never logs. Problems that the reference agent treats as fatal are returned together as
// one error; problems it only warns about (and replaces with a default) are returned as
// Warning values for the caller to log. Both name the variable, the offending value and what
// is accepted, and never echo a secret.
package config
