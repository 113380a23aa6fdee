// Package attesttest is a private Sigstore on loopback for tests: an OIDC
// token endpoint, Fulcio and Rekor.
package attesttest

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cyberphone/json-canonicalization/go/src/webpki.org/jsoncanonicalizer"
	"github.com/go-openapi/runtime"
	"github.com/sigstore/rekor/pkg/generated/models"
	"github.com/sigstore/rekor/pkg/types"
	_ "github.com/sigstore/rekor/pkg/types/dsse/v0.0.1"
	"github.com/sigstore/rekor/pkg/util"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/testing/ca"
	"github.com/sigstore/sigstore/pkg/signature"
)

const (
	Issuer      = "https://token.actions.githubusercontent.com"
	JobWorkflow = "acme/platform/.github/workflows/gitops-code.yml@refs/tags/v1"
	Identity    = "https://github.com/" + JobWorkflow
	// Repository is the repository whose run signs (the token's subject).
	Repository = "acme/api"
)

// Sigstore is a private Sigstore on loopback: the runner's OIDC token
// endpoint, Fulcio's v2 signingCert and Rekor's v1 log entries, each doing
// the checks the real one does on what this action sends (the bearer
// token, the proof of possession, the DSSE signature of the entry).
type Sigstore struct {
	OIDC, Fulcio, Rekor *httptest.Server
	RequestToken        string
	Token               string
	rootCert, interCert *x509.Certificate
	interKey            crypto.Signer
	rekorKey            *ecdsa.PrivateKey
	logID               []byte
	FulcioCalls         atomic.Int32
	RekorCalls          atomic.Int32
}

func Start(t testing.TB) *Sigstore {
	t.Helper()
	s := &Sigstore{RequestToken: "runner-request-token-7c1e"}
	rootCert, rootKey, err := ca.GenerateRootCa()
	if err != nil {
		t.Fatal(err)
	}
	s.rootCert = rootCert
	s.interCert, s.interKey, err = ca.GenerateFulcioIntermediate(rootCert, rootKey)
	if err != nil {
		t.Fatal(err)
	}
	if s.rekorKey, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		t.Fatal(err)
	}
	pub, _ := x509.MarshalPKIXPublicKey(s.rekorKey.Public())
	sum := sha256.Sum256(pub)
	s.logID = sum[:]

	claims, _ := json.Marshal(map[string]any{
		"iss": Issuer, "aud": "sigstore", "sub": "repo:" + Repository + ":ref:refs/heads/main",
		"job_workflow_ref": JobWorkflow, "exp": time.Now().Add(5 * time.Minute).Unix(),
	})
	enc := base64.RawURLEncoding.EncodeToString
	s.Token = enc([]byte(`{"alg":"RS256","typ":"JWT"}`)) + "." + enc(claims) + "." + enc([]byte("signature"))

	s.OIDC = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "bearer "+s.RequestToken || r.URL.Query().Get("audience") != "sigstore" {
			http.Error(w, "bad token request", http.StatusUnauthorized)
			return
		}
		json.NewEncoder(w).Encode(map[string]string{"value": s.Token})
	}))
	t.Cleanup(s.OIDC.Close)
	s.Fulcio = httptest.NewServer(http.HandlerFunc(s.signingCert))
	t.Cleanup(s.Fulcio.Close)
	s.Rekor = httptest.NewServer(http.HandlerFunc(s.logEntries))
	t.Cleanup(s.Rekor.Close)
	return s
}

// Env is what the runner gives a job with id-token: write.
func (s *Sigstore) Env() map[string]string {
	return map[string]string{
		"ACTIONS_ID_TOKEN_REQUEST_URL":   s.OIDC.URL + "/token?api-version=2.0",
		"ACTIONS_ID_TOKEN_REQUEST_TOKEN": s.RequestToken,
	}
}

func (s *Sigstore) signingCert(w http.ResponseWriter, r *http.Request) {
	s.FulcioCalls.Add(1)
	if r.Method != http.MethodPost || r.URL.Path != "/api/v2/signingCert" {
		http.NotFound(w, r)
		return
	}
	if r.Header.Get("Authorization") != "Bearer "+s.Token {
		http.Error(w, "invalid identity token", http.StatusUnauthorized)
		return
	}
	var req struct {
		PublicKeyRequest struct {
			PublicKey struct {
				Content string `json:"content"`
			} `json:"publicKey"`
			ProofOfPossession string `json:"proofOfPossession"`
		} `json:"publicKeyRequest"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	block, _ := pem.Decode([]byte(req.PublicKeyRequest.PublicKey.Content))
	if block == nil {
		http.Error(w, "no public key", http.StatusBadRequest)
		return
	}
	pub, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	// The proof of possession is the token's subject signed by the key.
	pop, _ := base64.StdEncoding.DecodeString(req.PublicKeyRequest.ProofOfPossession)
	digest := sha256.Sum256([]byte("repo:" + Repository + ":ref:refs/heads/main"))
	if ek, ok := pub.(*ecdsa.PublicKey); !ok || !ecdsa.VerifyASN1(ek, digest[:], pop) {
		http.Error(w, "proof of possession does not verify", http.StatusBadRequest)
		return
	}
	issuerV2, _ := asn1.MarshalWithParams(Issuer, "utf8")
	sourceRepo, _ := asn1.MarshalWithParams("https://github.com/"+Repository, "utf8")
	san, _ := url.Parse(Identity)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{},
		URIs:         []*url.URL{san},
		NotBefore:    time.Now().Add(-time.Minute),
		NotAfter:     time.Now().Add(10 * time.Minute),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
		ExtraExtensions: []pkix.Extension{
			{Id: asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 57264, 1, 1}, Value: []byte(Issuer)},
			{Id: asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 57264, 1, 8}, Value: issuerV2},
			{Id: asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 57264, 1, 12}, Value: sourceRepo},
		},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, s.interCert, pub, s.interKey)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	pemOf := func(b []byte) string { return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: b})) }
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"signedCertificateEmbeddedSct": map[string]any{
		"chain": map[string]any{"certificates": []string{pemOf(der), pemOf(s.interCert.Raw)}},
	}})
}

// logEntries accepts a proposed entry as Rekor v1 does and answers with a
// signed entry timestamp and an inclusion proof in a one-leaf tree.
func (s *Sigstore) logEntries(w http.ResponseWriter, r *http.Request) {
	s.RekorCalls.Add(1)
	if r.Method != http.MethodPost || r.URL.Path != "/api/v1/log/entries" {
		http.NotFound(w, r)
		return
	}
	pe, err := models.UnmarshalProposedEntry(r.Body, runtime.JSONConsumer())
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	// Unmarshalling the dsse entry verifies the envelope's signature.
	entry, err := types.CreateVersionedEntry(pe)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	body, err := types.CanonicalizeEntry(r.Context(), entry)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	leaf := sha256.Sum256(append([]byte{0}, body...))
	uuid := hex.EncodeToString(leaf[:])
	now := time.Now().Unix()
	logID := hex.EncodeToString(s.logID)
	payload, _ := json.Marshal(map[string]any{"body": base64.StdEncoding.EncodeToString(body), "integratedTime": now, "logIndex": 0, "logID": logID})
	canon, err := jsoncanonicalizer.Transform(payload)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	signer, _ := signature.LoadECDSASignerVerifier(s.rekorKey, crypto.SHA256)
	set, err := signer.SignMessage(bytes.NewReader(canon))
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	checkpoint, err := util.CreateAndSignCheckpoint(context.Background(), "rekor.localhost", 123, 1, leaf[:], signer)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("ETag", uuid)
	w.Header().Set("Location", "/api/v1/log/entries/"+uuid)
	w.WriteHeader(http.StatusCreated)
	json.NewEncoder(w).Encode(map[string]any{uuid: map[string]any{
		"body": base64.StdEncoding.EncodeToString(body), "integratedTime": now, "logID": logID, "logIndex": 0,
		"verification": map[string]any{
			"signedEntryTimestamp": base64.StdEncoding.EncodeToString(set),
			"inclusionProof": map[string]any{
				"checkpoint": string(checkpoint), "hashes": []string{}, "logIndex": 0,
				"rootHash": hex.EncodeToString(leaf[:]), "treeSize": 1,
			},
		},
	}})
}

// TrustedRoot is what a verifier trusts of this instance.
func (s *Sigstore) TrustedRoot(t testing.TB) *root.TrustedRoot {
	t.Helper()
	tr, err := root.NewTrustedRoot(root.TrustedRootMediaType01,
		[]root.CertificateAuthority{&root.FulcioCertificateAuthority{
			Root: s.rootCert, Intermediates: []*x509.Certificate{s.interCert},
			ValidityPeriodStart: time.Now().Add(-time.Hour), URI: s.Fulcio.URL,
		}}, nil, nil,
		map[string]*root.TransparencyLog{hex.EncodeToString(s.logID): {
			BaseURL: s.Rekor.URL, ID: s.logID, ValidityPeriodStart: time.Now().Add(-time.Hour),
			HashFunc: crypto.SHA256, PublicKey: s.rekorKey.Public(), SignatureHashFunc: crypto.SHA256,
		}})
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

// TrustedRootFile writes the trusted root as JSON into a temporary file.
func (s *Sigstore) TrustedRootFile(t testing.TB) string {
	t.Helper()
	raw, err := s.TrustedRoot(t).MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "trusted_root.json")
	if err := os.WriteFile(p, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
