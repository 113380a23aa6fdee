package attest

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"

	"github.com/secure-systems-lab/go-securesystemslib/encrypted"
	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	"github.com/sigstore/sigstore-go/pkg/sign"

	"github.com/gitops-actions/gitops-actions/internal/action"
)

// PEM block types of cosign's encrypted private keys (cosign
// generate-key-pair writes the first; older versions the second).
const (
	sigstoreKeyType = "ENCRYPTED SIGSTORE PRIVATE KEY"
	cosignKeyType   = "ENCRYPTED COSIGN PRIVATE KEY"
)

// keyPair is a long-lived ECDSA key as a sigstore-go signing key pair.
type keyPair struct {
	priv *ecdsa.PrivateKey
	hash crypto.Hash
	alg  protocommon.PublicKeyDetails
	hint []byte
}

var _ sign.Keypair = (*keyPair)(nil)

// loadKey decrypts a cosign-format private key: scrypt and secretbox
// (go-securesystemslib's encrypted format) around a PKCS#8 key.
func loadKey(pemData, password string) (*keyPair, error) {
	block, _ := pem.Decode([]byte(pemData))
	if block == nil {
		return nil, action.Usage("key", "is not a PEM private key")
	}
	if block.Type != sigstoreKeyType && block.Type != cosignKeyType {
		return nil, action.Usage("key", "is a %q PEM block, not a cosign encrypted private key (%s)", block.Type, sigstoreKeyType)
	}
	der, err := encrypted.Decrypt(block.Bytes, []byte(password))
	if err != nil {
		if password == "" {
			return nil, action.Usage("key-password", "is empty and the key is encrypted with a password, or the key is damaged")
		}
		return nil, action.Usage("key-password", "does not decrypt key (wrong password or a damaged key)")
	}
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, action.Usage("key", "decrypts to no PKCS#8 private key: %v", err)
	}
	priv, ok := k.(*ecdsa.PrivateKey)
	if !ok {
		return nil, action.Usage("key", "is a %T key; only ECDSA keys (cosign's default) are supported", k)
	}
	kp := &keyPair{priv: priv}
	switch priv.Curve {
	case elliptic.P256():
		kp.hash, kp.alg = crypto.SHA256, protocommon.PublicKeyDetails_PKIX_ECDSA_P256_SHA_256
	case elliptic.P384():
		kp.hash, kp.alg = crypto.SHA384, protocommon.PublicKeyDetails_PKIX_ECDSA_P384_SHA_384
	case elliptic.P521():
		kp.hash, kp.alg = crypto.SHA512, protocommon.PublicKeyDetails_PKIX_ECDSA_P521_SHA_512
	default:
		return nil, action.Usage("key", "uses an unsupported elliptic curve")
	}
	pub, err := x509.MarshalPKIXPublicKey(priv.Public())
	if err != nil {
		return nil, action.UsageErr("key", err)
	}
	// The hint sigstore-go and cosign give a public key: its SHA-256.
	sum := sha256.Sum256(pub)
	kp.hint = []byte(base64.StdEncoding.EncodeToString(sum[:]))
	return kp, nil
}

func (k *keyPair) GetHashAlgorithm() protocommon.HashAlgorithm {
	switch k.hash {
	case crypto.SHA384:
		return protocommon.HashAlgorithm_SHA2_384
	case crypto.SHA512:
		return protocommon.HashAlgorithm_SHA2_512
	}
	return protocommon.HashAlgorithm_SHA2_256
}

func (k *keyPair) GetSigningAlgorithm() protocommon.PublicKeyDetails { return k.alg }
func (k *keyPair) GetHint() []byte                                   { return k.hint }
func (k *keyPair) GetKeyAlgorithm() string                           { return "ECDSA" }
func (k *keyPair) GetPublicKey() crypto.PublicKey                    { return k.priv.Public() }

func (k *keyPair) GetPublicKeyPem() (string, error) {
	der, err := x509.MarshalPKIXPublicKey(k.priv.Public())
	if err != nil {
		return "", err
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})), nil
}

// SignData returns the signature of data and the digest it signed.
func (k *keyPair) SignData(_ context.Context, data []byte) ([]byte, []byte, error) {
	var digest []byte
	switch k.hash {
	case crypto.SHA384:
		s := sha512.Sum384(data)
		digest = s[:]
	case crypto.SHA512:
		s := sha512.Sum512(data)
		digest = s[:]
	default:
		s := sha256.Sum256(data)
		digest = s[:]
	}
	sig, err := ecdsa.SignASN1(rand.Reader, k.priv, digest)
	if err != nil {
		return nil, nil, errors.Join(fmt.Errorf("signing with key"), err)
	}
	return sig, digest, nil
}

// GenerateKey makes an ECDSA P-256 key pair in cosign's formats: the
// private key encrypted with password (what `cosign generate-key-pair`
// writes to cosign.key) and the PEM public key (cosign.pub).
func GenerateKey(password string) (privatePEM, publicPEM string, err error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", "", err
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return "", "", err
	}
	enc, err := encrypted.Encrypt(der, []byte(password))
	if err != nil {
		return "", "", err
	}
	pub, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		return "", "", err
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: sigstoreKeyType, Bytes: enc})),
		string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub})), nil
}
