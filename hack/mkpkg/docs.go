package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"debug/buildinfo"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"
)

// meta is what the documents in the packages say about their origin.
type meta struct {
	Name       string
	Version    pkgVersion
	Agent      string // the agent's own version (internal/version)
	Commit     string // the git commit, "" outside a checkout
	Maintainer string
	Homepage   string
	Time       time.Time // the commit's time: the packages' files carry it too
}

// debianCopyright is /usr/share/doc/<pkg>/copyright in Debian's machine-readable format
// (DEP-5). The licence paragraph refers to the copy Debian ships in common-licenses rather
// than repeating it, as Debian policy asks.
func debianCopyright(m meta) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n")
	fmt.Fprintf(&b, "Upstream-Name: %s\n", m.Name)
	fmt.Fprintf(&b, "Upstream-Contact: %s\n", m.Maintainer)
	fmt.Fprintf(&b, "Source: %s\n", m.Homepage)
	fmt.Fprintf(&b, "Comment: The programs in this package are statically linked Go binaries. Besides\n")
	fmt.Fprintf(&b, " %s's own code they contain the Go standard library and Go modules, each listed\n", m.Name)
	fmt.Fprintf(&b, " with the licence texts its source carries in\n")
	fmt.Fprintf(&b, " /usr/share/doc/%s/THIRD-PARTY-NOTICES.gz.\n", m.Name)
	fmt.Fprintf(&b, "\nFiles: *\n")
	fmt.Fprintf(&b, "Copyright: %d %s authors\n", m.Time.Year(), m.Name)
	fmt.Fprintf(&b, "License: Apache-2.0\n")
	fmt.Fprintf(&b, "\nLicense: Apache-2.0\n")
	for _, l := range []string{
		`Licensed under the Apache License, Version 2.0 (the "License");`,
		`you may not use this file except in compliance with the License.`,
		`You may obtain a copy of the License at`,
		``,
		`    https://www.apache.org/licenses/LICENSE-2.0`,
		``,
		`Unless required by applicable law or agreed to in writing, software`,
		`distributed under the License is distributed on an "AS IS" BASIS,`,
		`WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.`,
		`See the License for the specific language governing permissions and`,
		`limitations under the License.`,
		``,
		`On Debian systems, the complete text of the Apache License, Version 2.0`,
		`can be found in "/usr/share/common-licenses/Apache-2.0".`,
	} {
		if l == "" {
			l = "."
		}
		fmt.Fprintf(&b, " %s\n", l)
	}
	return []byte(b.String())
}

// debianChangelog is the one-entry changelog.Debian a binary package must carry: the
// history itself is ecsd's git log, which the entry names.
func debianChangelog(m meta) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "%s (%s) unstable; urgency=medium\n\n", m.Name, m.Version.Deb())
	if m.Commit != "" {
		fmt.Fprintf(&b, "  * Package of %s %s, built from git commit %s; the changes are in\n", m.Name, m.Agent, m.Commit)
		fmt.Fprintf(&b, "    the project's git history.\n")
	} else {
		fmt.Fprintf(&b, "  * Package of %s %s.\n", m.Name, m.Agent)
	}
	fmt.Fprintf(&b, "\n -- %s  %s\n", m.Maintainer, m.Time.UTC().Format("Mon, 02 Jan 2006 15:04:05 -0700"))
	return []byte(b.String())
}

// gzipBest compresses data the way Debian wants documentation compressed: maximum
// compression, no file name and no time stamp in the header (so builds are reproducible).
func gzipBest(data []byte) ([]byte, error) {
	var buf bytes.Buffer
	w, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(data); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// licenseFileRE matches the files whose text a module's licence obliges a binary
// distribution to reproduce.
var licenseFileRE = regexp.MustCompile(`(?i)^(licen[cs]e|copying|notice|patents)([.-].*)?$`)

// thirdPartyNotices lists, for the Go standard library and every module linked into the
// given binaries, the licence and notice files at the root of its source in the module
// cache (where the build just read it from). A module whose source has none is listed as
// such rather than silently left out.
func thirdPartyNotices(name, goroot, modcache string, bins []string) ([]byte, error) {
	type mod struct{ path, version, dir string }
	seen := map[string]mod{}
	goVersion := ""
	for _, bin := range bins {
		bi, err := buildinfo.ReadFile(bin)
		if err != nil {
			return nil, fmt.Errorf("read build info of %s: %w", bin, err)
		}
		goVersion = bi.GoVersion
		for _, d := range bi.Deps {
			if d.Replace != nil {
				d = d.Replace
			}
			if d.Version == "" {
				return nil, fmt.Errorf("%s: module %s is replaced by a local directory; its licence cannot be found", bin, d.Path)
			}
			dir := filepath.Join(modcache, escapeModulePath(d.Path)+"@"+escapeModulePath(d.Version))
			seen[d.Path+"@"+d.Version] = mod{d.Path, d.Version, dir}
		}
	}
	keys := make([]string, 0, len(seen))
	for k := range seen {
		keys = append(keys, k)
	}
	slices.Sort(keys)

	var b strings.Builder
	rule := strings.Repeat("=", 78) + "\n"
	fmt.Fprintf(&b, "Third-party software in %s's binaries\n\n", name)
	fmt.Fprintf(&b, "%s's programs are statically linked Go binaries. Besides %s's own code\n", name, name)
	fmt.Fprintf(&b, "(Apache License 2.0) they contain the Go standard library and the %d Go\n", len(keys))
	fmt.Fprintf(&b, "modules below, each followed by the licence and notice files of its source.\n\n")
	section := func(title, dir string) error {
		b.WriteString(rule)
		b.WriteString(title + "\n")
		b.WriteString(rule)
		entries, err := os.ReadDir(dir)
		if err != nil {
			return fmt.Errorf("%s: %w (is the module cache the one the build used?)", title, err)
		}
		n := 0
		for _, e := range entries {
			if e.IsDir() || !licenseFileRE.MatchString(e.Name()) {
				continue
			}
			text, err := os.ReadFile(filepath.Join(dir, e.Name()))
			if err != nil {
				return err
			}
			fmt.Fprintf(&b, "--- %s ---\n%s\n", e.Name(), strings.TrimRightFunc(string(text), unicode.IsSpace))
			n++
		}
		if n == 0 {
			b.WriteString("(its source has no licence file at its root)\n")
		}
		b.WriteString("\n")
		return nil
	}
	if err := section("Go standard library ("+goVersion+")", goroot); err != nil {
		return nil, err
	}
	for _, k := range keys {
		m := seen[k]
		if err := section(m.path+" "+m.version, m.dir); err != nil {
			return nil, err
		}
	}
	return []byte(b.String()), nil
}

// escapeModulePath is the module cache's case encoding: an upper-case letter becomes "!"
// and its lower case (golang.org/x/mod/module.EscapePath, without the validation).
func escapeModulePath(p string) string {
	var b strings.Builder
	for _, r := range p {
		if unicode.IsUpper(r) {
			b.WriteByte('!')
			r = unicode.ToLower(r)
		}
		b.WriteRune(r)
	}
	return b.String()
}

// manPage is what a manual page says besides the program's own help.
type manPage struct {
	Name, Section, Summary string
	// Description paragraphs, plain text.
	Description []string
	// Help is the program's --help output, shown verbatim as OPTIONS.
	Help string
	// Files are path → what it is.
	Files   [][2]string
	SeeAlso string
}

// roff renders the page. The help text goes in a no-fill block with roff's special
// characters escaped, so it reads as the program prints it.
func (mp manPage) roff(m meta) []byte {
	esc := func(s string) string {
		s = strings.ReplaceAll(s, `\`, `\e`)
		s = strings.ReplaceAll(s, "-", `\-`)
		if strings.HasPrefix(s, ".") || strings.HasPrefix(s, "'") {
			s = `\&` + s
		}
		return s
	}
	var b strings.Builder
	fmt.Fprintf(&b, ".TH %s %s %q %q %q\n", strings.ToUpper(esc(mp.Name)), mp.Section, m.Time.UTC().Format("2006-01-02"), m.Name+" "+m.Agent, map[string]string{"1": "User Commands", "8": "System Administration"}[mp.Section])
	fmt.Fprintf(&b, ".SH NAME\n%s \\- %s\n", esc(mp.Name), esc(mp.Summary))
	fmt.Fprintf(&b, ".SH SYNOPSIS\n.B %s\n[\\fIoptions\\fR]\n", esc(mp.Name))
	b.WriteString(".SH DESCRIPTION\n")
	for i, p := range mp.Description {
		if i > 0 {
			b.WriteString(".PP\n")
		}
		b.WriteString(esc(p) + "\n")
	}
	b.WriteString(".SH OPTIONS\n.nf\n")
	for _, l := range strings.Split(strings.TrimRight(mp.Help, "\n"), "\n") {
		for _, w := range wrap(strings.ReplaceAll(l, "\t", "    "), 78) {
			b.WriteString(esc(w) + "\n")
		}
	}
	b.WriteString(".fi\n")
	if len(mp.Files) > 0 {
		b.WriteString(".SH FILES\n")
		for _, f := range mp.Files {
			fmt.Fprintf(&b, ".TP\n.I %s\n%s\n", esc(f[0]), esc(f[1]))
		}
	}
	fmt.Fprintf(&b, ".SH SEE ALSO\n%s\n", esc(mp.SeeAlso))
	return []byte(b.String())
}

// helpOutput runs a program with --help and returns what it printed. Only the output is
// looked at (that it is the usage), not the exit status: older ecs-agent builds exited 5
// after printing it.
func helpOutput(ctx context.Context, bin, mustStart string) (string, error) {
	cmd := exec.CommandContext(ctx, bin, "--help")
	cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=/nonexistent"}
	out, _ := cmd.CombinedOutput()
	if !strings.HasPrefix(string(out), mustStart) {
		return "", fmt.Errorf("%s --help printed %q, not its usage", bin, out)
	}
	return string(out), nil
}

// manPages writes ecs-agent(8) and ecsctl(1), gzipped, into dir from the host's binaries in
// binDir, and returns their destination in the packages → file.
func manPages(ctx context.Context, m meta, binDir, dir string) (map[string]string, error) {
	agentHelp, err := helpOutput(ctx, filepath.Join(binDir, "ecs-agent"), "Usage of ecs-agent")
	if err != nil {
		return nil, err
	}
	ctlHelp, err := helpOutput(ctx, filepath.Join(binDir, "ecsctl"), "ecsctl ")
	if err != nil {
		return nil, err
	}
	pages := []manPage{{
		Name: "ecs-agent", Section: "8", Summary: "Amazon ECS container agent for containerd (ecsd)",
		Description: []string{
			"ecs-agent registers this host as an Amazon ECS container instance and runs the tasks ECS places on it directly on containerd, without Docker.",
			"systemd runs it as ecs.service, with /usr/libexec/ecsd/ecs-init preparing the host (iptables rules, routes, directories) before it starts and undoing that after it stops. Task containers keep running when the agent stops; it adopts them when it starts again.",
			"Its settings are the ECS_* variables of the reference agent (and ecsd's own ECSD_* ones), read from the environment and from /etc/ecs/ecs.config. The README of ecsd documents them, the unit and the packages.",
		},
		Help: agentHelp,
		Files: [][2]string{
			{"/etc/ecs/ecs.config", "the configuration: KEY=VALUE lines"},
			{"/var/lib/ecs/data", "the agent's checkpoint and the tasks' data"},
			{"/var/log/ecs/ecs-agent.log", "the agent's log under the unit (ECS_LOGFILE); also the journal"},
		},
		SeeAlso: "ecsctl(1), systemctl(1), " + m.Homepage,
	}, {
		Name: "ecsctl", Section: "1", Summary: "command-line client of the ecsd agent",
		Description: []string{
			"ecsctl reads the objects of a running ecsd agent (tasks, containers, images, attachments, the instance) through its Kubernetes-style object API, prints container logs, and runs and stops tasks through the agent's local ECS control plane. Run it as root: the API token is readable by root only. \"ecsctl COMMAND --help\" describes each command.",
		},
		Help: ctlHelp,
		Files: [][2]string{
			{"/var/lib/ecs/ecsd/api-token", "the object API's bearer token"},
			{"/var/lib/ecs/ecsd/local-plane.json", "the local control plane's key pair and endpoint"},
		},
		SeeAlso: "ecs-agent(8), kubectl(1), " + m.Homepage,
	}}
	out := map[string]string{}
	for _, mp := range pages {
		gz, err := gzipBest(mp.roff(m))
		if err != nil {
			return nil, err
		}
		name := mp.Name + "." + mp.Section + ".gz"
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, gz, 0o644); err != nil {
			return nil, err
		}
		out["/usr/share/man/man"+mp.Section+"/"+name] = path
	}
	return out, nil
}

// wrap breaks a line longer than width at spaces, indenting the continuations as the line
// itself is indented (help texts are verbatim blocks, which man does not fill).
func wrap(line string, width int) []string {
	indent := line[:len(line)-len(strings.TrimLeft(line, " "))]
	var out []string
	cur := ""
	for _, word := range strings.Fields(line) {
		switch {
		case cur == "":
			cur = indent + word
		case len(cur)+1+len(word) > width:
			out = append(out, cur)
			cur = indent + word
		default:
			cur += " " + word
		}
	}
	if cur == "" {
		return []string{""}
	}
	return append(out, cur)
}
