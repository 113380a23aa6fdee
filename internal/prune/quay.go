package prune

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/gitops-actions/gitops-actions/internal/transport"
)

// quayProvider prunes a Quay repository through Quay's REST API, which
// lists active tags with their manifest digests and start times. Quay
// garbage-collects manifests no tag names, so untagged ones are neither
// listed nor deleted here, and deleting means deleting tags.
type quayProvider struct {
	api       string // e.g. https://quay.io/api/v1
	token     string
	namespace string
	name      string
	http      *http.Client
}

func newQuay(apiURL, token, repoPath string, rt *transport.Transport) (*quayProvider, error) {
	ns, repo, ok := strings.Cut(repoPath, "/")
	if !ok || repo == "" {
		return nil, fmt.Errorf("%q is not NAMESPACE/REPOSITORY", repoPath)
	}
	if _, err := url.Parse(apiURL); err != nil {
		return nil, fmt.Errorf("parsing the Quay API URL %q: %w", apiURL, err)
	}
	return &quayProvider{api: strings.TrimSuffix(apiURL, "/"), token: token, namespace: ns, name: repo, http: rt.Client()}, nil
}

func (p *quayProvider) Kind() string        { return "quay" }
func (p *quayProvider) ListsUntagged() bool { return false }
func (p *quayProvider) UntagsAlone() bool   { return true }

type quayTag struct {
	Name           string `json:"name"`
	ManifestDigest string `json:"manifest_digest"`
	StartTS        int64  `json:"start_ts"`
	IsManifestList bool   `json:"is_manifest_list"`
}

func (p *quayProvider) tagURL(tag string) string {
	u := fmt.Sprintf("%s/repository/%s/%s/tag/", p.api, url.PathEscape(p.namespace), url.PathEscape(p.name))
	if tag != "" {
		u += url.PathEscape(tag)
	}
	return u
}

func (p *quayProvider) do(ctx context.Context, method, u string, want int, into any) error {
	req, err := http.NewRequestWithContext(ctx, method, u, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+p.token)
	req.Header.Set("Accept", "application/json")
	resp, err := p.http.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, u, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != want {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
		return fmt.Errorf("%s %s: %s: %s", method, u, resp.Status, strings.TrimSpace(string(body)))
	}
	if into != nil {
		if err := json.NewDecoder(resp.Body).Decode(into); err != nil {
			return fmt.Errorf("%s %s: decoding response: %w", method, u, err)
		}
	}
	return nil
}

func (p *quayProvider) List(ctx context.Context) ([]Version, error) {
	byDigest := map[string]*Version{}
	var order []string
	for page := 1; ; page++ {
		var res struct {
			Tags          []quayTag `json:"tags"`
			Page          int       `json:"page"`
			HasAdditional bool      `json:"has_additional"`
		}
		u := fmt.Sprintf("%s?onlyActiveTags=true&limit=100&page=%d", p.tagURL(""), page)
		if err := p.do(ctx, http.MethodGet, u, http.StatusOK, &res); err != nil {
			return nil, fmt.Errorf("listing tags of quay repository %s/%s: %w", p.namespace, p.name, err)
		}
		for _, t := range res.Tags {
			if t.ManifestDigest == "" {
				continue
			}
			v := byDigest[t.ManifestDigest]
			if v == nil {
				v = &Version{ID: t.ManifestDigest, Digest: t.ManifestDigest}
				byDigest[t.ManifestDigest] = v
				order = append(order, t.ManifestDigest)
			}
			v.Tags = append(v.Tags, t.Name)
			// A digest is as young as the last tag pointed at it.
			if s := time.Unix(t.StartTS, 0); t.StartTS > 0 && s.After(v.Created) {
				v.Created = s
			}
		}
		if !res.HasAdditional || len(res.Tags) == 0 {
			break
		}
	}
	out := make([]Version, len(order))
	for i, d := range order {
		out[i] = *byDigest[d]
		slices.Sort(out[i].Tags)
	}
	return out, nil
}

func (p *quayProvider) Delete(ctx context.Context, s Step) error {
	for _, t := range s.Tags {
		if err := p.do(ctx, http.MethodDelete, p.tagURL(t), http.StatusNoContent, nil); err != nil {
			return fmt.Errorf("deleting tag %q of quay repository %s/%s: %w", t, p.namespace, p.name, err)
		}
	}
	return nil
}
