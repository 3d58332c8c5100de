package hostfs

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ecsd/ecsd/runtime"
)

// Volumes is the real runtime.VolumeMounter: mount(8) (which runs mount.nfs for NFS) for
// the mount, stunnel for an NFS mount's TLS tunnel. Beside every mount point it keeps a
// record (<target>.mount.json), written before the mount is made, so an agent that
// restarts adopts its mounts and still finds the tunnel to stop when it unmounts.
type Volumes struct {
	// MountBin is mount(8); "" looks it up in PATH (and /sbin, /usr/sbin).
	MountBin string
	// StunnelBin is stunnel; "" looks up stunnel, then stunnel4.
	StunnelBin string
	// ProcFilesystems is /proc/filesystems (tests point it elsewhere); "" is the real one.
	ProcFilesystems string
	// ModulesDir is /lib/modules/<release>, where a file system the kernel has not loaded
	// yet may be found as a module; "" is the running kernel's.
	ModulesDir string
}

var _ runtime.VolumeMounter = Volumes{}

// tlsPortRange is where a tunnel's local port is picked when the volume names none, the
// range the EFS mount helper uses.
const tlsPortLow, tlsPortHigh = 20049, 21049

// record is what is kept beside a mount point.
type record struct {
	// Requested is the mount as asked: an equal request adopts the mount.
	Requested runtime.VolumeMount `json:"requested"`
	// Port is the tunnel's local port, 0 without a tunnel.
	Port int `json:"port,omitempty"`
}

func recordPath(target string) string  { return target + ".mount.json" }
func stunnelConf(target string) string { return target + ".stunnel.conf" }
func stunnelPID(target string) string  { return target + ".stunnel.pid" }
func stunnelLog(target string) string  { return target + ".stunnel.log" }

// Mount mounts m at target unless the same mount is there already.
func (v Volumes) Mount(ctx context.Context, target string, m runtime.VolumeMount) error {
	target = filepath.Clean(target)
	if err := os.MkdirAll(target, 0o755); err != nil {
		return fmt.Errorf("mount point %s: %w", target, err)
	}
	mounted, err := mountedAt(target)
	if err != nil {
		return err
	}
	if mounted {
		rec, err := readRecord(target)
		if err != nil {
			return fmt.Errorf("%s is mounted, but not by ecsd: %w", target, err)
		}
		if !reflect.DeepEqual(rec.Requested, m) {
			return fmt.Errorf("%s already holds another mount (%s %s)", target, rec.Requested.Type, rec.Requested.Device)
		}
		if m.TLS != nil {
			// The mount is there; its tunnel must be too (it died, or the host rebooted
			// while the record survived): NFS reconnects once it is back.
			if _, err := v.ensureTunnel(ctx, target, rec.Port, m.TLS); err != nil {
				return err
			}
		}
		return nil
	}
	// Not mounted: whatever a crash left (a tunnel, a record) is redone from scratch.
	v.stopTunnel(target)
	rec := record{Requested: m}
	eff := m
	if m.TLS != nil {
		port, err := v.ensureTunnel(ctx, target, m.TLS.LocalPort, m.TLS)
		if err != nil {
			return err
		}
		rec.Port = port
		eff.Device = "127.0.0.1:" + nfsPath(m.Device)
		eff.Options = append(slices.Clone(m.Options), "port="+strconv.Itoa(port))
	}
	if err := writeRecord(target, rec); err != nil {
		v.stopTunnel(target)
		return err
	}
	if err := v.mount(ctx, target, eff); err != nil {
		v.stopTunnel(target)
		_ = os.Remove(recordPath(target))
		return err
	}
	return nil
}

// Unmount removes the mount at target and its tunnel.
func (v Volumes) Unmount(_ context.Context, target string) error {
	target = filepath.Clean(target)
	mounted, err := mountedAt(target)
	if err != nil {
		return err
	}
	if mounted {
		// Detached, not waited for: an NFS server that is gone must not hang the cleanup.
		if err := unix.Unmount(target, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("unmount %s: %w", target, err)
		}
	}
	v.stopTunnel(target)
	for _, p := range []string{recordPath(target), stunnelConf(target), stunnelPID(target), stunnelLog(target)} {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("unmount %s: %w", target, err)
		}
	}
	return nil
}

// Supports reports whether fsType can be mounted here (with a TLS tunnel).
func (v Volumes) Supports(fsType string, tls bool) error {
	switch fsType {
	case "", "none", "bind":
		return nil
	}
	if _, err := v.mountBin(); err != nil {
		return err
	}
	if !v.kernelHas(fsType) {
		return fmt.Errorf("%w: the kernel has no %s file system (not in /proc/filesystems, no module)", runtime.ErrMountUnsupported, fsType)
	}
	if fsType == "nfs" || fsType == "nfs4" {
		if _, err := lookPath("mount.nfs"); err != nil {
			return fmt.Errorf("%w: mount.nfs not found (Debian: apt-get install nfs-common)", runtime.ErrMountUnsupported)
		}
	}
	if tls {
		if _, err := v.stunnelBin(); err != nil {
			return err
		}
	}
	return nil
}

// kernelHas reports whether the kernel has fsType or can load it as a module.
func (v Volumes) kernelHas(fsType string) bool {
	pf := v.ProcFilesystems
	if pf == "" {
		pf = "/proc/filesystems"
	}
	if b, err := os.ReadFile(pf); err == nil {
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			if len(f) > 0 && f[len(f)-1] == fsType {
				return true
			}
		}
	}
	dir := v.ModulesDir
	if dir == "" {
		var u unix.Utsname
		if err := unix.Uname(&u); err != nil {
			return false
		}
		dir = filepath.Join("/lib/modules", unix.ByteSliceToString(u.Release[:]))
	}
	mod := "fs/" + fsType
	if fsType == "nfs4" {
		// nfs4 is registered by the nfs module (kernel/fs/nfs/).
		mod = "fs/nfs"
	}
	_, err := os.Stat(filepath.Join(dir, "kernel", mod))
	return err == nil
}

func (v Volumes) mountBin() (string, error) {
	if v.MountBin != "" {
		return v.MountBin, nil
	}
	p, err := lookPath("mount")
	if err != nil {
		return "", fmt.Errorf("%w: mount(8) not found", runtime.ErrMountUnsupported)
	}
	return p, nil
}

func (v Volumes) stunnelBin() (string, error) {
	if v.StunnelBin != "" {
		return v.StunnelBin, nil
	}
	for _, n := range []string{"stunnel", "stunnel4"} {
		if p, err := lookPath(n); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("%w: stunnel not found for transit encryption (Debian: apt-get install stunnel4)", runtime.ErrMountUnsupported)
}

// lookPath finds name in PATH or the sbin directories a service's PATH may lack.
func lookPath(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, d := range []string{"/usr/sbin", "/sbin", "/usr/bin", "/bin"} {
		p := filepath.Join(d, name)
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s: %w", name, exec.ErrNotFound)
}

// mount runs mount(8); its own message is the error, as a user would see it.
func (v Volumes) mount(ctx context.Context, target string, m runtime.VolumeMount) error {
	bin, err := v.mountBin()
	if err != nil {
		return err
	}
	args := []string{}
	if m.Type != "" {
		args = append(args, "-t", m.Type)
	}
	if len(m.Options) > 0 {
		args = append(args, "-o", strings.Join(m.Options, ","))
	}
	args = append(args, m.Device, target)
	cmd := exec.CommandContext(ctx, bin, args...)
	// mount.nfs is found in the sbin directories even when the agent's PATH lacks them.
	cmd.Env = append(os.Environ(), "PATH=/usr/sbin:/sbin:/usr/bin:/bin")
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.CombinedOutput()
	if err != nil {
		msg := strings.TrimSpace(string(out))
		if len(msg) > 512 {
			msg = msg[:512]
		}
		if ctx.Err() != nil {
			return fmt.Errorf("mount %s at %s: %w (%s)", m.Device, target, ctx.Err(), msg)
		}
		return fmt.Errorf("mount %s at %s: %w: %s", m.Device, target, err, msg)
	}
	return nil
}

// ensureTunnel starts stunnel for target unless the one it started is still running, and
// returns its local port.
func (v Volumes) ensureTunnel(ctx context.Context, target string, port int, t *runtime.TLSTunnel) (int, error) {
	if pid := tunnelPID(target); pid > 0 && port > 0 {
		return port, nil
	}
	bin, err := v.stunnelBin()
	if err != nil {
		return 0, err
	}
	if port == 0 {
		if port, err = freePort(); err != nil {
			return 0, err
		}
	}
	ca := t.CAFile
	if ca == "" {
		ca = "/etc/ssl/certs/ca-certificates.crt"
	}
	// The EFS mount helper's client settings: TLS 1.2, no renegotiation, the server's
	// certificate verified against the CA and the file system's name.
	conf := fmt.Sprintf(`foreground = no
pid = %s
output = %s
socket = l:SO_REUSEADDR=yes
[efs]
client = yes
accept = 127.0.0.1:%d
connect = %s
sslVersion = TLSv1.2
renegotiation = no
TIMEOUTbusy = 20
TIMEOUTclose = 0
TIMEOUTidle = 70
delay = yes
verify = 2
CAfile = %s
checkHost = %s
`, stunnelPID(target), stunnelLog(target), port, t.Connect, ca, t.VerifyName)
	if err := os.WriteFile(stunnelConf(target), []byte(conf), 0o600); err != nil {
		return 0, fmt.Errorf("tunnel for %s: %w", target, err)
	}
	_ = os.Remove(stunnelPID(target))
	cmd := exec.CommandContext(ctx, bin, stunnelConf(target))
	cmd.WaitDelay = 5 * time.Second
	// Not the agent's child for long: stunnel forks into the background and outlives an
	// agent restart, which finds it again by its pid file.
	out, err := cmd.CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("start stunnel for %s: %w: %s", target, err, strings.TrimSpace(string(out)))
	}
	// The daemon writes its pid file once it listens.
	deadline := time.Now().Add(10 * time.Second)
	for tunnelPID(target) == 0 {
		if time.Now().After(deadline) || ctx.Err() != nil {
			log, _ := os.ReadFile(stunnelLog(target))
			v.stopTunnel(target)
			return 0, fmt.Errorf("stunnel for %s did not start: %s", target, lastLine(string(log)))
		}
		time.Sleep(20 * time.Millisecond)
	}
	return port, nil
}

// tunnelPID is the pid of target's running stunnel, 0 if none: the pid file must name a
// live process whose command line names target's configuration, so a reused pid is never
// taken for it.
func tunnelPID(target string) int {
	b, err := os.ReadFile(stunnelPID(target))
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0
	}
	cmdline, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "cmdline"))
	if err != nil || !bytes.Contains(cmdline, []byte(stunnelConf(target))) {
		return 0
	}
	return pid
}

// stopTunnel stops target's stunnel, if any, and waits a bounded time for it to go.
func (v Volumes) stopTunnel(target string) {
	pid := tunnelPID(target)
	if pid == 0 {
		return
	}
	_ = syscall.Kill(pid, syscall.SIGTERM)
	// stunnel removes its pid file before it has exited: wait for the process itself, so
	// a port or mount that follows never finds the old tunnel still there.
	if !waitGone(pid, 5*time.Second) {
		_ = syscall.Kill(pid, syscall.SIGKILL)
		waitGone(pid, time.Second)
	}
	_ = os.Remove(stunnelPID(target))
}

// waitGone waits up to d for process pid to exit (a zombie counts as gone) and reports
// whether it did.
func waitGone(pid int, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for processRunning(pid) {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
	return true
}

// processRunning reports whether pid is a process that has not exited: present in /proc
// and not a zombie (a daemonized stunnel is reaped by init, not by us).
func processRunning(pid int) bool {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}

// freePort picks a loopback port in the EFS mount helper's range that nothing listens on.
func freePort() (int, error) {
	for p := tlsPortLow; p <= tlsPortHigh; p++ {
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
		if err != nil {
			continue
		}
		_ = l.Close()
		return p, nil
	}
	return 0, fmt.Errorf("no free port in %d-%d for a TLS tunnel", tlsPortLow, tlsPortHigh)
}

// nfsPath is the path part of an NFS device "host:/path".
func nfsPath(device string) string {
	if i := strings.Index(device, ":/"); i >= 0 {
		return device[i+1:]
	}
	return "/"
}

func readRecord(target string) (record, error) {
	var rec record
	b, err := os.ReadFile(recordPath(target))
	if err != nil {
		return rec, err
	}
	if err := json.Unmarshal(b, &rec); err != nil {
		return rec, fmt.Errorf("mount record %s: %w", recordPath(target), err)
	}
	return rec, nil
}

func writeRecord(target string, rec record) error {
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	tmp := recordPath(target) + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("mount record: %w", err)
	}
	if err := os.Rename(tmp, recordPath(target)); err != nil {
		return fmt.Errorf("mount record: %w", err)
	}
	return nil
}

// mountedAt reports whether something is mounted at target, from the mount table: a bind
// mount of a directory of the same file system has the same device, so a stat cannot tell.
func mountedAt(target string) (bool, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return false, fmt.Errorf("read mount table: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) > 4 && unescapeMountPath(fields[4]) == target {
			return true, nil
		}
	}
	if err := sc.Err(); err != nil {
		return false, fmt.Errorf("read mount table: %w", err)
	}
	return false, nil
}

// unescapeMountPath undoes mountinfo's octal escapes (\040 for a space, ...).
func unescapeMountPath(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	if len(s) > 300 {
		s = s[len(s)-300:]
	}
	return s
}
