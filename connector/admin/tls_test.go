package admin

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"log/slog"
	"math/big"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/onoffsync/onoffsync/connector"
)

// writeCert writes a self-signed certificate for admin.example (not for 127.0.0.1) and its key into dir.
func writeCert(tb testing.TB, dir, name string) (certFile, keyFile string) {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "admin.example"},
		DNSNames: []string{"admin.example"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		tb.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		tb.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600)
	return certFile, keyFile
}

func adminConfig(tb testing.TB, dir, adminBlock string) (*connector.Config, error) {
	tb.Helper()
	src := fmt.Sprintf("server:\n  api_keys: [k]\nadmin:\n%s\nstore:\n  path: %s/db\ndestinations:\n  - {name: audit, type: log, output: %s/a.jsonl}\n", adminBlock, dir, dir)
	return connector.ParseConfig(filepath.Join(dir, "config.yaml"), []byte(src), func(string) string { return "" })
}

func TestAdminTLSConfig(t *testing.T) {
	dir := t.TempDir()
	writeCert(t, dir, "admin")
	writeCert(t, dir, "other")
	for _, tt := range []struct {
		name, block, want string
	}{
		{"both", "  tls_cert: admin.crt\n  tls_key: admin.key", ""},
		{"neither", "  listen: 127.0.0.1:9090", ""},
		{"cert alone", "  tls_cert: admin.crt", "config.yaml:4: admin.tls_cert: tls_cert and tls_key go together"},
		{"key alone", "  tls_key: admin.key", "admin.tls_cert: tls_cert and tls_key go together"},
		{"missing file", "  tls_cert: nope.crt\n  tls_key: admin.key", "admin.tls_cert: cannot load the certificate and key: open " + dir + "/nope.crt"},
		{"not a pair", "  tls_cert: admin.crt\n  tls_key: other.key", "admin.tls_cert: cannot load the certificate and key: tls: private key does not match public key"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := adminConfig(t, dir, tt.block)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("got %v, want no error", err)
				}
				if tt.name == "both" && cfg.Admin.TLSCert != filepath.Join(dir, "admin.crt") {
					t.Errorf("tls_cert: got %q, want it resolved against the config's folder", cfg.Admin.TLSCert)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want an error with %q", err, tt.want)
			}
		})
	}
}

// TestAdminTLSClient serves the admin listener over HTTPS and checks the CLI's client reaches it by address
// with the configured certificate, and refuses a listener presenting another.
func TestAdminTLSClient(t *testing.T) {
	e := newEnv(t)
	dir := t.TempDir()
	certFile, keyFile := writeCert(t, dir, "admin")
	otherCert, _ := writeCert(t, dir, "other")
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(e.admin.Handler(e.metrics, slog.New(slog.DiscardHandler)))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{pair}}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes below are expected
	srv.StartTLS()
	defer srv.Close()
	listen := strings.TrimPrefix(srv.URL, "https://")

	c, err := NewClient(connector.AdminConfig{Listen: listen, TLSCert: certFile})
	if err != nil {
		t.Fatal(err)
	}
	if !c.Reachable(context.Background()) {
		t.Fatal("the client with admin.tls_cert does not reach the HTTPS listener")
	}
	if st, err := c.Status(); err != nil || len(st.Destinations) != 1 {
		t.Errorf("status over HTTPS: got %+v, %v", st, err)
	}
	wrong, err := NewClient(connector.AdminConfig{Listen: listen, TLSCert: otherCert})
	if err != nil {
		t.Fatal(err)
	}
	if wrong.Reachable(context.Background()) {
		t.Error("a client pinned to another certificate reached the listener")
	}
	if _, err := wrong.Status(); err == nil || !strings.Contains(err.Error(), "another certificate") {
		t.Errorf("status with another certificate: got %v, want a refusal", err)
	}
	plain, _ := NewClient(connector.AdminConfig{Listen: listen})
	if plain.Reachable(context.Background()) {
		t.Error("a plain-HTTP client reached the HTTPS listener")
	}
	if _, err := NewClient(connector.AdminConfig{Listen: listen, TLSCert: filepath.Join(dir, "nope.crt")}); err == nil {
		t.Error("NewClient with an unreadable admin.tls_cert: got no error")
	}
}
