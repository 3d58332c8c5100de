package main

import (
	"maps"
	"os"
	"path/filepath"
	"slices"

	"github.com/goreleaser/nfpm/v2"
	"github.com/goreleaser/nfpm/v2/files"
)

// The distributions' names of what ecsd needs on the host. ecs-init runs iptables and ip;
// the agent runs containerd's shims (runc) and the standard CNI plugins, and talks TLS to
// AWS with the system's CA certificates.
var (
	// debDepends are Debian's (and Ubuntu's) packages. Docker's containerd.io provides
	// containerd and runc too.
	debDepends = []string{"containerd", "runc", "iptables", "containernetworking-plugins", "iproute2", "ca-certificates"}
	// rpmDepends are Amazon Linux 2023's: there /usr/sbin/iptables comes from iptables-nft
	// (iptables-legacy is the alternative), ip from iproute. containernetworking-plugins is
	// the Fedora family's name, whose plugins live in /usr/libexec/cni.
	rpmDepends = []string{"containerd", "runc", "iptables-nft", "containernetworking-plugins", "iproute", "ca-certificates"}
	// conflicts: the reference's packages ship the same ecs.service.
	debConflicts = []string{"amazon-ecs-init"}
	rpmConflicts = []string{"ecs-init", "amazon-ecs-init"}
)

// synopsis and body are the package's description (Debian: the synopsis line and the
// extended description; rpm: Summary and %description).
const (
	synopsis = "Amazon ECS container agent for containerd (ecsd)"
	body     = `ecsd runs Amazon ECS tasks directly on containerd, without Docker and without
an agent container: systemd runs the agent (ecs-agent) as ecs.service, with
ecs-init preparing the host's iptables rules and routes before it starts.

The package also brings ecsctl, a kubectl-style command-line client of the
agent, with bash, zsh and fish completions.`
)

// stage is everything packageInfo needs from the build: the binaries of one architecture
// and the files written for the packages.
type stage struct {
	Arch        string
	BinDir      string            // the binaries of Arch
	Completions map[string]string // shell → script
	ManPages    map[string]string // destination → gzipped page
	Copyright   string            // Debian's copyright file
	Changelog   string            // changelog.Debian.gz
	NoticesGz   string            // THIRD-PARTY-NOTICES.gz (deb)
	Notices     string            // THIRD-PARTY-NOTICES (rpm)
}

// packageInfo describes the package of one format and architecture for nfpm. repo is the
// repository root, whose packaging/ directory holds the unit, the configuration file and
// the maintainer scripts.
func packageInfo(format string, m meta, s stage, repo string) *nfpm.Info {
	pkgdir := func(p string) string { return filepath.Join(repo, "packaging", p) }
	file := func(src, dst string, mode os.FileMode) *files.Content {
		return &files.Content{Source: src, Destination: dst, FileInfo: &files.ContentFileInfo{Mode: mode, MTime: m.Time}}
	}
	dir := func(dst string, mode os.FileMode) *files.Content {
		return &files.Content{Destination: dst, Type: files.TypeDir, FileInfo: &files.ContentFileInfo{Mode: mode, MTime: m.Time}}
	}
	var c files.Contents
	for _, b := range binaries {
		c = append(c, file(filepath.Join(s.BinDir, b.Name), b.Dir+"/"+b.Name, 0o755))
	}
	conf := file(pkgdir("ecs.config"), "/etc/ecs/ecs.config", 0o644)
	conf.Type = files.TypeConfigNoReplace // a conffile for dpkg, %config(noreplace) for rpm
	c = append(c,
		conf,
		// The directories ecs-init pre-start would create, with its modes: the data
		// directory (task volumes, the checkpoint, secrets' files) is root's alone.
		dir("/etc/ecs", 0o755),
		dir("/var/lib/ecs", 0o755),
		dir("/var/lib/ecs/data", 0o700),
		dir("/var/log/ecs", 0o755),
		file(s.Completions["bash"], "/usr/share/bash-completion/completions/ecsctl", 0o644),
		file(s.Completions["fish"], "/usr/share/fish/vendor_completions.d/ecsctl.fish", 0o644),
	)
	for _, dst := range slices.Sorted(maps.Keys(s.ManPages)) {
		c = append(c, file(s.ManPages[dst], dst, 0o644))
	}

	info := &nfpm.Info{
		Name:          m.Name,
		Arch:          s.Arch,
		Platform:      "linux",
		Version:       m.Version.Upstream,
		Release:       m.Version.Revision,
		VersionSchema: "none", // packageVersion already made it valid for both formats
		Section:       "admin",
		Priority:      "optional",
		Maintainer:    m.Maintainer,
		Vendor:        m.Name,
		Homepage:      m.Homepage,
		License:       "Apache-2.0",
		Description:   synopsis + "\n" + body,
		MTime:         m.Time,
	}
	info.Umask = 0o022
	switch format {
	case "deb":
		c = append(c,
			// Debian 12 still installs units under /lib (usr-merge moves them later).
			file(pkgdir("systemd/ecs.service"), "/lib/systemd/system/ecs.service", 0o644),
			file(s.Completions["zsh"], "/usr/share/zsh/vendor-completions/_ecsctl", 0o644),
			file(s.Copyright, "/usr/share/doc/"+m.Name+"/copyright", 0o644),
			file(s.Changelog, "/usr/share/doc/"+m.Name+"/changelog.Debian.gz", 0o644),
			file(s.NoticesGz, "/usr/share/doc/"+m.Name+"/THIRD-PARTY-NOTICES.gz", 0o644),
			file(pkgdir("deb/lintian-overrides"), "/usr/share/lintian/overrides/"+m.Name, 0o644),
		)
		// gzip at its default level: nfpm's default (9) takes several times longer for
		// about 1% less, and xz or zstd would shut out older dpkg versions.
		info.Deb.Compression = "gzip:6"
		info.Depends = debDepends
		info.Conflicts = debConflicts
		info.Scripts = nfpm.Scripts{
			PostInstall: pkgdir("deb/postinst"),
			PreRemove:   pkgdir("deb/prerm"),
			PostRemove:  pkgdir("deb/postrm"),
		}
	case "rpm":
		lic := file(filepath.Join(repo, "LICENSE"), "/usr/share/licenses/"+m.Name+"/LICENSE", 0o644)
		lic.Type = files.TypeRPMLicense
		notices := file(s.Notices, "/usr/share/licenses/"+m.Name+"/THIRD-PARTY-NOTICES", 0o644)
		notices.Type = files.TypeRPMLicense
		c = append(c,
			file(pkgdir("systemd/ecs.service"), "/usr/lib/systemd/system/ecs.service", 0o644),
			file(pkgdir("rpm/ecs.service.d-rpm.conf"), "/usr/lib/systemd/system/ecs.service.d/50-ecsd-rpm.conf", 0o644),
			file(s.Completions["zsh"], "/usr/share/zsh/site-functions/_ecsctl", 0o644),
			lic, notices,
		)
		info.Depends = rpmDepends
		info.Conflicts = rpmConflicts
		info.Scripts = nfpm.Scripts{
			PreInstall:  pkgdir("rpm/pre"),
			PostInstall: pkgdir("rpm/post"),
			PreRemove:   pkgdir("rpm/preun"),
			PostRemove:  pkgdir("rpm/postun"),
		}
		info.RPM.Scripts.PostTrans = pkgdir("rpm/posttrans")
		info.RPM.Summary = synopsis
		info.Description = body
		info.RPM.Group = "System Environment/Daemons"
		info.RPM.BuildHost = "ecsd" // not the building machine's name: reproducible builds
	}
	info.Contents = c
	return info
}
