// Package dualtls serves TLS and plain HTTP on one port, and makes the self-signed
// certificate the agent serves TLS with. The introspection port needs both: the reference
// agent's /v1 endpoints and health checks speak plain HTTP, while kubectl sends a bearer
// token only over TLS (client-go drops credentials for http:// servers), so the object API
// must also be reachable as https on the same port.
package dualtls

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"os"
	"sync"
	"time"

	"github.com/ecsd/ecsd/internal/atomicfile"
	"github.com/ecsd/ecsd/internal/secretfile"
)

// Listener hands out connections that speak TLS when the client's first byte opens a TLS
// handshake, and plain otherwise. The choice is made on the connection's first read, in
// the server's goroutine for that connection, so a slow client never holds up Accept.
type Listener struct {
	net.Listener
	Config *tls.Config
}

// Accept returns the next connection.
func (l Listener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &conn{Conn: c, cfg: l.Config}, nil
}

// conn decides on its first Read whether it is TLS.
type conn struct {
	net.Conn
	cfg  *tls.Config
	once sync.Once
	rw   net.Conn // the plain connection (through a peeking reader) or the TLS one
	err  error
}

// recordTypeHandshake opens every TLS ClientHello.
const recordTypeHandshake = 0x16

func (c *conn) decide() {
	br := bufio.NewReaderSize(c.Conn, 1)
	b, err := br.Peek(1)
	if err != nil {
		c.err = err
		return
	}
	plain := &peeked{Conn: c.Conn, r: br}
	if b[0] == recordTypeHandshake && c.cfg != nil {
		c.rw = tls.Server(plain, c.cfg)
		return
	}
	c.rw = plain
}

func (c *conn) Read(b []byte) (int, error) {
	c.once.Do(c.decide)
	if c.err != nil {
		return 0, c.err
	}
	return c.rw.Read(b)
}

func (c *conn) Write(b []byte) (int, error) {
	c.once.Do(c.decide)
	if c.err != nil {
		return 0, c.err
	}
	return c.rw.Write(b)
}

func (c *conn) Close() error {
	if c.rw != nil {
		return c.rw.Close()
	}
	return c.Conn.Close()
}

// peeked reads through the reader that holds the peeked byte.
type peeked struct {
	net.Conn
	r *bufio.Reader
}

func (p *peeked) Read(b []byte) (int, error) { return p.r.Read(b) }

// Hosts are the names the certificate is valid for: the introspection port is reached on
// loopback.
var Hosts = []string{"127.0.0.1", "::1", "localhost"}

// validity is how long a new certificate is valid; one expiring within renewBefore is made
// again at the next start.
const (
	validity    = 10 * 365 * 24 * time.Hour
	renewBefore = 30 * 24 * time.Hour
)

// LoadOrCreate returns the certificate at certPath with its key at keyPath (mode 0600),
// making a new self-signed one for Hosts when either is missing, unreadable or expiring.
// The certificate's PEM is returned too: it is what a client trusts (kubectl's
// certificate-authority-data).
func LoadOrCreate(certPath, keyPath string, now time.Time) (tls.Certificate, []byte, error) {
	certPEM, errC := os.ReadFile(certPath)
	keyPEM, errK := secretfile.Read(keyPath)
	if errC == nil && errK == nil {
		if c, err := tls.X509KeyPair(certPEM, keyPEM); err == nil && c.Leaf != nil && now.Add(renewBefore).Before(c.Leaf.NotAfter) {
			return c, certPEM, nil
		}
	} else if (errC != nil && !errors.Is(errC, fs.ErrNotExist)) || (errK != nil && !errors.Is(errK, fs.ErrNotExist)) {
		return tls.Certificate{}, nil, fmt.Errorf("read the API certificate: %w", errors.Join(errC, errK))
	}
	certPEM, keyPEM, err := generate(now)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	_ = os.Remove(keyPath)
	if _, err := secretfile.LoadOrCreate(keyPath, func() ([]byte, error) { return keyPEM, nil }); err != nil {
		return tls.Certificate{}, nil, fmt.Errorf("write the API key: %w", err)
	}
	if err := atomicfile.Write(certPath, certPEM, 0o644); err != nil { // a certificate is public
		return tls.Certificate{}, nil, fmt.Errorf("write the API certificate: %w", err)
	}
	c, err := tls.X509KeyPair(certPEM, keyPEM)
	return c, certPEM, err
}

func generate(now time.Time) (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "ecsd introspection"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(validity),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true, // self-signed: clients trust it as its own authority
	}
	for _, h := range Hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), nil
}
