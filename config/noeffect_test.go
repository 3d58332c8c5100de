package config

import (
	"bufio"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestNoEffectWarnings: each no-effect variable that is set gives exactly one warning
// naming it, whichever source sets it (and once when several do); variables with an
// effect give none.
func TestNoEffectWarnings(t *testing.T) {
	envFile := writeFile(t, "ecs.config", "ECS_AGENT_LABELS={\"a\":\"b\"}\nECS_PAUSE_LABELS={\"x\":\"y\"}\nECS_CLUSTER=prod\n")
	jsonFile := writeFile(t, "agent.json", `{"GPUSupportEnabled": true, "PauseContainerLabels": {"z": "w"}}`)
	env := map[string]string{"ECS_ENABLE_HIGH_DENSITY_ENI": "true", "ECS_PAUSE_LABELS": `{"e":"f"}`, "ECS_LOGLEVEL": "debug"}
	_, w, err := loadAll(t, env, WithConfigFile(envFile), WithAgentConfigFile(jsonFile))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]Warning{}
	for _, x := range w {
		got[x.Key] = append(got[x.Key], x)
	}
	want := map[string]string{
		"ECS_ENABLE_HIGH_DENSITY_ENI": `ECS_ENABLE_HIGH_DENSITY_ENI="true": has no effect in ecsd: ecsd does not support ENI trunking`,
		"ECS_AGENT_LABELS":            `ECS_AGENT_LABELS="{\"a\":\"b\"}" (` + envFile + `): has no effect in ecsd: it configures the reference agent's own Docker container`,
		"ECS_PAUSE_LABELS":            `ECS_PAUSE_LABELS="{\"e\":\"f\"}": has no effect in ecsd: ecsd has no pause containers`,
		"ECS_ENABLE_GPU_SUPPORT":      `ECS_ENABLE_GPU_SUPPORT="" (GPUSupportEnabled in ` + jsonFile + `): has no effect in ecsd: ecsd does not support GPUs`,
	}
	for key, prefix := range want {
		if len(got[key]) != 1 || !strings.HasPrefix(got[key][0].String(), prefix) || !got[key][0].NoEffect {
			t.Errorf("%s: warnings %v, want one starting %q", key, got[key], prefix)
		}
	}
	if len(w) != len(want) {
		t.Errorf("warnings:\n%s\nwant only the %d no-effect ones", warningsText(w), len(want))
	}
}

// TestVariableClassification: every ECS_* name in the reference's documentation is either
// configuration with an effect, listed in noEffectVariables, or a task environment name.
// The split is checked against the code: a Config field read outside this package (as
// cfg.<Field>, the one name every package gives the Config) has an effect and must not be
// listed as having none, and a field read nowhere must be listed.
func TestVariableClassification(t *testing.T) {
	noEffect := noEffectVariables()
	taskEnv := taskEnvironmentVariables()
	used := fieldsReadOutsideConfig(t)
	// Fields this package turns into others that are read outside it.
	derived := map[string]bool{"AgentConfigFilePath": true, "EngineAuthType": true, "EngineAuthData": true}
	// Fields whose effect lands with a parallel branch of issue 14 (the capability table,
	// awslogs). Tolerated only while nothing reads them.
	pending := map[string]bool{}

	configVars := map[string]field{}
	for _, f := range fields() {
		if !strings.HasPrefix(f.env, "ECS_") {
			continue
		}
		configVars[f.env] = f
		_, listed := noEffect[f.env]
		switch {
		case listed && used[f.name]:
			t.Errorf("%s (%s) is read outside config (cfg.%s) but listed in noEffectVariables", f.env, f.name, f.name)
		case pending[f.name] && used[f.name]:
			t.Errorf("%s (%s) is read now: take it off the pending list", f.env, f.name)
		case !listed && !used[f.name] && !derived[f.name] && !pending[f.name]:
			t.Errorf("%s (%s) is read nowhere outside config: list it in noEffectVariables", f.env, f.name)
		}
	}
	for key := range noEffect {
		if taskEnv[key] {
			t.Errorf("%s is both a task environment name and a no-effect variable", key)
		}
	}

	file, err := os.Open("testdata/spec-variables.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	n := 0
	sc := bufio.NewScanner(file)
	for sc.Scan() {
		key := strings.TrimSpace(sc.Text())
		if key == "" || strings.HasPrefix(key, "#") {
			continue
		}
		n++
		_, isConfig := configVars[key]
		_, listed := noEffect[key]
		if !isConfig && !listed && !taskEnv[key] {
			t.Errorf("%s (in the reference's documentation) is not classified: neither configuration, nor no-effect, nor task environment", key)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if n < 100 {
		t.Fatalf("only %d variables in testdata/spec-variables.txt", n)
	}
}

// fieldsReadOutsideConfig returns the selector names X in every cfg.X (or <expr>.cfg.X)
// in the repository's non-test Go files outside this package.
func fieldsReadOutsideConfig(t *testing.T) map[string]bool {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("repository root: %v", err)
	}
	here, _ := filepath.Abs(".")
	used := map[string]bool{}
	fset := token.NewFileSet()
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (path == here || d.Name() == ".git" || d.Name() == "testdata" || d.Name() == "vendor") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			sel, ok := n.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			switch x := sel.X.(type) {
			case *ast.Ident:
				if x.Name == "cfg" {
					used[sel.Sel.Name] = true
				}
			case *ast.SelectorExpr:
				if x.Sel.Name == "cfg" {
					used[sel.Sel.Name] = true
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return used
}
