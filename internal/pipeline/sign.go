package pipeline

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/gitops-actions/gitops-actions/internal/action"
	"github.com/gitops-actions/gitops-actions/internal/attest"
	"github.com/gitops-actions/gitops-actions/internal/target"
	"github.com/gitops-actions/gitops-actions/internal/verify"
)

// runKey is a signing key made for one pipeline run: the private key in
// cosign's encrypted PEM format with its password, and the public key the
// bump stage verifies with. Nothing of it outlives the run.
type runKey struct {
	private, password, public string
}

func newRunKey() (runKey, error) {
	pw := make([]byte, 16)
	if _, err := rand.Read(pw); err != nil {
		return runKey{}, fmt.Errorf("making the run's key password: %w", err)
	}
	password := hex.EncodeToString(pw)
	private, public, err := attest.GenerateKey(password)
	if err != nil {
		return runKey{}, fmt.Errorf("making the run's signing key: %w", err)
	}
	return runKey{private: private, password: password, public: public}, nil
}

// verify checks the proofs attest attached to imageRef under the run's
// key before anything is written to the config repo, as bump-manifest's
// verify does in CI (the demo's config names the image by its public
// repository, not this run's registry, so the pipeline checks the digest
// it built itself). A missing or wrong proof stops the run: exit 1.
func (r *runner) verify(ctx context.Context, imageRef, proofs, publicKey string, cfg Config) error {
	fmt.Fprintf(r.c.Stdout, "\n== verify\n")
	start := time.Now()
	s := Stage{Name: "verify", Status: "error"}
	defer func() {
		s.DurationMS = time.Since(start).Milliseconds()
		r.stages = append(r.stages, s)
	}()
	ref, err := name.NewDigest(imageRef)
	if err != nil {
		s.Reason = err.Error()
		return fmt.Errorf("verifying %q: %w", imageRef, err)
	}
	p, err := verify.NewPolicy(verify.Inputs{Require: strings.Split(proofs, ","), Key: publicKey})
	if err != nil {
		s.Reason = err.Error()
		return err
	}
	res, err := verify.Verify(ctx, ref, p, target.RemoteOptions(ctx, target.Auth{Username: cfg.RegistryUsername, Password: cfg.RegistryPassword})...)
	if err != nil {
		s.Reason = err.Error()
		return err
	}
	s.Outputs = map[string]string{"verified": fmt.Sprint(res.Verified), "proofs": proofs}
	if !res.Verified {
		s.Status, s.Reason = "failed", strings.Join(res.Failures(), "; ")
		return action.Blocking(fmt.Errorf("not bumping %s: %s", imageRef, s.Reason))
	}
	s.Status = "passed"
	fmt.Fprintf(r.c.Stdout, "   verify | %s carries %s under %s\n", imageRef, proofs, p.Describe)
	return nil
}
