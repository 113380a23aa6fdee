package action

import (
	"bytes"
	"encoding/json"
	"io"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
)

// Redactor replaces secrets with *** in text and JSON. One Redactor per
// run covers every stream and file the run writes.
type Redactor struct {
	mu      sync.RWMutex
	secrets []string // with their escaped forms, longest first
}

// add records s and the forms it takes when printed as JSON, in a URL or
// line by line (the runner masks a multi-line secret per line too). It
// reports whether s was new.
func (r *Redactor) add(s string) bool {
	if s == "" {
		return false
	}
	forms := []string{s, url.QueryEscape(s), url.PathEscape(s), jsonString(s, true), jsonString(s, false)}
	forms = append(forms, secretLines(s)...)
	r.mu.Lock()
	defer r.mu.Unlock()
	isNew := !slices.Contains(r.secrets, s)
	for _, f := range forms {
		if f != "" && !slices.Contains(r.secrets, f) {
			r.secrets = append(r.secrets, f)
		}
	}
	// Longest first, so a user:password pair goes before its password.
	slices.SortStableFunc(r.secrets, func(a, b string) int { return len(b) - len(a) })
	return isNew
}

// minSecretLine is the shortest line of a multi-line secret masked on its
// own: shorter lines ("{", "}", "  ],") carry no secret and masking them
// would garble every log line and document they appear in.
const minSecretLine = 6

// secretLines are the lines of a multi-line secret that are masked on
// their own, because the runner masks a log line by line and never sees
// the whole value at once. A PEM key's armor lines are not secret.
func secretLines(s string) []string {
	if !strings.ContainsAny(s, "\r\n") {
		return nil
	}
	var out []string
	for _, l := range strings.FieldsFunc(s, func(r rune) bool { return r == '\n' || r == '\r' }) {
		l = strings.TrimSpace(l)
		if len(l) < minSecretLine || strings.HasPrefix(l, "-----BEGIN ") || strings.HasPrefix(l, "-----END ") {
			continue
		}
		out = append(out, l)
	}
	return out
}

// jsonString is s as it appears between the quotes of a JSON string.
func jsonString(s string, escapeHTML bool) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(escapeHTML)
	if err := enc.Encode(s); err != nil {
		return ""
	}
	out := strings.TrimSuffix(b.String(), "\n")
	return out[1 : len(out)-1]
}

// String replaces every secret in s.
func (r *Redactor) String(s string) string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	for _, sec := range r.secrets {
		if strings.Contains(s, sec) {
			s = strings.ReplaceAll(s, sec, "***")
		}
	}
	return s
}

// JSON redacts a JSON document. The text is redacted in place, so a file
// without secrets stays byte for byte as written; should that break the
// document (a secret that is also JSON syntax, such as "true"), every
// string in it is redacted instead and the document re-encoded.
func (r *Redactor) JSON(b []byte) []byte {
	out := []byte(r.String(string(b)))
	if bytes.Equal(out, b) || json.Valid(out) {
		return out
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return out // not JSON to begin with: the text redaction is all there is
	}
	re, err := json.MarshalIndent(r.walk(v), "", "  ")
	if err != nil {
		return out
	}
	return re
}

func (r *Redactor) walk(v any) any {
	switch v := v.(type) {
	case string:
		return r.String(v)
	case []any:
		for i := range v {
			v[i] = r.walk(v[i])
		}
	case map[string]any:
		m := make(map[string]any, len(v))
		for k, x := range v {
			m[r.String(k)] = r.walk(x)
		}
		return m
	}
	return v
}

// urlAuthority finds scheme:// and the authority after it, up to the path,
// query, fragment or whitespace; list inputs hold several.
var urlAuthority = regexp.MustCompile(`[A-Za-z][A-Za-z0-9+.-]*://([^/?#\s]*)`)

// URLCredentials returns the credentials inside every URL in s: the
// user:password pair and the password (raw and decoded), or the user when
// there is no password (a token used as the user name).
func URLCredentials(s string) []string {
	var out []string
	for _, m := range urlAuthority.FindAllStringSubmatch(s, -1) {
		at := strings.LastIndexByte(m[1], '@')
		if at <= 0 {
			continue
		}
		info := m[1][:at]
		user, pass, hasPass := strings.Cut(info, ":")
		if hasPass && pass != "" {
			out = append(out, info, pass)
			if dec, err := url.PathUnescape(pass); err == nil && dec != pass {
				out = append(out, dec)
			}
			continue
		}
		if user != "" {
			out = append(out, user)
			if dec, err := url.PathUnescape(user); err == nil && dec != user {
				out = append(out, dec)
			}
		}
	}
	return out
}

// redactWriter redacts what passes through it a line at a time, so a
// secret split across two writes is still caught.
type redactWriter struct {
	mu  sync.Mutex
	w   io.Writer
	r   *Redactor
	buf []byte
}

// maxPending bounds what a writer holds while waiting for a line end.
const maxPending = 64 << 10

func (w *redactWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	i := bytes.LastIndexAny(w.buf, "\r\n")
	if i < 0 {
		if len(w.buf) < maxPending {
			return len(p), nil
		}
		i = len(w.buf) - 1
	}
	if err := w.emit(i + 1); err != nil {
		return 0, err
	}
	return len(p), nil
}

// emit writes the first n pending bytes, redacted.
func (w *redactWriter) emit(n int) error {
	if n == 0 {
		return nil
	}
	out := w.r.String(string(w.buf[:n]))
	w.buf = append(w.buf[:0], w.buf[n:]...)
	_, err := io.WriteString(w.w, out)
	return err
}

// Flush writes a pending partial line.
func (w *redactWriter) Flush() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.emit(len(w.buf))
}

// writeRaw writes p unredacted, after what is pending.
func (w *redactWriter) writeRaw(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.emit(len(w.buf)); err != nil {
		return 0, err
	}
	return w.w.Write(p)
}

// commandWriter is the runner protocol's stdout: ::add-mask:: must carry
// the secret itself, everything else is redacted.
type commandWriter struct{ w *redactWriter }

func (c commandWriter) Write(p []byte) (int, error) {
	if bytes.HasPrefix(p, []byte("::add-mask::")) {
		return c.w.writeRaw(p)
	}
	return c.w.Write(p)
}
