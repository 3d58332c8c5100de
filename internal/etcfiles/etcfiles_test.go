package etcfiles

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"github.com/ecsd/ecsd/runtime"
)

func TestBuildFiles(t *testing.T) {
	t.Parallel()
	const stdHosts = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n"
	ip := netip.MustParseAddr
	for _, tc := range []struct {
		name                 string
		in                   FilesInput
		hostname, hosts, dns string
		err                  bool
	}{
		{
			name: "bridge with extra hosts and links",
			in: FilesInput{
				Hostname: "web", IPv4: ip("172.17.0.2"),
				ExtraHosts:     []string{"db:10.0.0.9", "v6:fd00::1"},
				Links:          []Link{{Alias: "cache", IP: ip("172.17.0.3")}},
				HostResolvConf: []byte("# generated\nnameserver 127.0.0.53\nnameserver 10.0.0.2\nsearch ec2.internal\noptions edns0\n"),
			},
			hostname: "web\n",
			hosts:    stdHosts + "172.17.0.2\tweb\n10.0.0.9\tdb\nfd00::1\tv6\n172.17.0.3\tcache\n",
			dns:      "# generated\nnameserver 10.0.0.2\nsearch ec2.internal\noptions edns0\n",
		},
		{
			name:  "only loopback resolvers on the host",
			in:    FilesInput{HostResolvConf: []byte("nameserver 127.0.0.53\nnameserver ::1\n")},
			hosts: stdHosts,
			dns:   "nameserver 8.8.8.8\nnameserver 8.8.4.4\n",
		},
		{
			name: "awsvpc DNS from the ENI",
			in: FilesInput{Hostname: "ip-10-0-0-5", IPv4: ip("10.0.0.5"),
				DNS:            DNS{Servers: []string{"10.0.0.2"}, Search: []string{"a.internal", "b.internal"}},
				HostResolvConf: []byte("nameserver 1.1.1.1\n")},
			hostname: "ip-10-0-0-5\n",
			hosts:    stdHosts + "10.0.0.5\tip-10-0-0-5\n",
			dns:      "nameserver 10.0.0.2\nsearch a.internal b.internal\n",
		},
		{name: "bad extra host", in: FilesInput{ExtraHosts: []string{"nocolon"}}, err: true},
		{name: "bad extra host address", in: FilesInput{ExtraHosts: []string{"x:not-an-ip"}}, err: true},
		{name: "bad link", in: FilesInput{Links: []Link{{Alias: "a b", IP: ip("1.2.3.4")}}}, err: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := BuildFiles(tc.in)
			if tc.err {
				if !errors.Is(err, runtime.ErrInvalidNetworkRequest) {
					t.Fatalf("err = %v, want runtime.ErrInvalidNetworkRequest", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if string(f.Hostname) != tc.hostname || string(f.Hosts) != tc.hosts || string(f.ResolvConf) != tc.dns {
				t.Fatalf("got hostname %q\nhosts %q\nresolv %q", f.Hostname, f.Hosts, f.ResolvConf)
			}
			dir := t.TempDir()
			if err := f.WriteTo(dir); err != nil {
				t.Fatal(err)
			}
			for name, want := range map[string]string{"hosts": tc.hosts, "resolv.conf": tc.dns, "hostname": tc.hostname} {
				b, err := os.ReadFile(filepath.Join(dir, name))
				if name == "hostname" && tc.hostname == "" {
					if !errors.Is(err, os.ErrNotExist) {
						t.Fatalf("hostname written without a hostname: %v", err)
					}
					continue
				}
				if err != nil || string(b) != want {
					t.Fatalf("%s = %q, %v", name, b, err)
				}
			}
		})
	}
}
