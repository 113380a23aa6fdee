package render

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/gob"
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Limits bound the rendering of one unit (a chart or a kustomization).
type Limits struct {
	// MaxBytes is the most rendered output one unit may produce.
	MaxBytes int64
	// Timeout is the most wall time one unit may take.
	Timeout time.Duration
}

// Defaults no real repository reaches.
const (
	DefaultMaxBytes = 64 << 20
	DefaultTimeout  = 60 * time.Second
)

// Memory is what a render process may map: room for the output a few
// times over (template buffers, copies, the encoded reply) plus the
// renderer itself.
func (l Limits) Memory() int64 { return 128<<20 + 8*l.MaxBytes }

// LimitError is a unit whose rendering was stopped by a limit.
type LimitError struct {
	// Limit is the input that sets it: render-max-bytes or render-timeout.
	Limit string
	Msg   string
}

func (e *LimitError) Error() string { return e.Msg }

// Runner renders units in child processes of this binary, so that a
// hostile chart or kustomization is bounded in memory (RLIMIT_DATA), time
// (it is killed) and output, which Helm's template engine cannot be from
// inside: sprig's until, seq or repeat allocate before any output is
// written, and a template cannot be interrupted. A child serves one unit
// at a time and is reused until a limit kills it.
type Runner struct {
	limits Limits
	kopts  KustomizeOptions
	known  func(sum [sha256.Size]byte) bool
	mu     sync.Mutex
	idle   []*child
	closed bool
}

// NewRunner returns a Runner; zero limits take the defaults. Every unit
// is read only inside o.Roots, and kustomize loads remote content only as
// o allows.
func NewRunner(l Limits, o KustomizeOptions) *Runner {
	if l.MaxBytes <= 0 {
		l.MaxBytes = DefaultMaxBytes
	}
	if l.Timeout <= 0 {
		l.Timeout = DefaultTimeout
	}
	return &Runner{limits: l, kopts: o}
}

// SkipKnown makes the Runner leave out the YAML of each rendered object
// for which known(its Sum) is true: the caller holds that content
// already, as it does the objects of a base for every overlay after the
// first. Set it before the first unit.
func (r *Runner) SkipKnown(known func(sum [sha256.Size]byte) bool) { r.known = known }

// Helm is [Helm] within the limits.
func (r *Runner) Helm(ctx context.Context, dir string, valuesFiles []string, cluster Cluster) ([]Template, error) {
	s := r.Session()
	defer s.Close()
	return s.Helm(ctx, dir, valuesFiles, cluster)
}

// Kustomize is [Kustomize] within the limits.
func (r *Runner) Kustomize(ctx context.Context, dir string, cluster Cluster) ([]Object, error) {
	s := r.Session()
	defer s.Close()
	return s.Kustomize(ctx, dir, cluster)
}

// Session renders units one after another in one render process, which
// keeps what it read for one (the files of a shared base, their parsed
// CRDs) for the next: units that share large inputs are rendered in one
// session rather than each in a process of its own that reads them all
// again, at once, in memory.
type Session struct {
	r *Runner
	c *child
}

// Session starts a session; Close ends it.
func (r *Runner) Session() *Session { return &Session{r: r} }

// Close gives the session's process back to the Runner.
func (s *Session) Close() {
	if s.c != nil {
		s.r.put(s.c)
		s.c = nil
	}
}

// Helm is [Runner.Helm] in the session's process.
func (s *Session) Helm(ctx context.Context, dir string, valuesFiles []string, cluster Cluster) ([]Template, error) {
	resp, err := s.do(ctx, request{Kind: "helm", Dir: dir, ValuesFiles: valuesFiles, Cluster: cluster})
	if err != nil {
		return nil, err
	}
	return resp.Templates, nil
}

// Kustomize is [Runner.Kustomize] in the session's process.
func (s *Session) Kustomize(ctx context.Context, dir string, cluster Cluster) ([]Object, error) {
	resp, err := s.do(ctx, request{Kind: "kustomize", Dir: dir, Cluster: cluster})
	if err != nil {
		return nil, err
	}
	return resp.Objects, nil
}

// Close ends the idle children.
func (r *Runner) Close() {
	r.mu.Lock()
	idle := r.idle
	r.idle, r.closed = nil, true
	r.mu.Unlock()
	for _, c := range idle {
		c.stdin.Close()
		c.wait()
	}
}

func (s *Session) do(ctx context.Context, req request) (response, error) {
	r := s.r
	req.MaxBytes = r.limits.MaxBytes
	req.RootDirs = r.kopts.Roots.Dirs()
	req.AllowRemote, req.RemoteTimeout = r.kopts.AllowRemote, r.kopts.RemoteTimeout
	c := s.c
	s.c = nil
	if c == nil {
		var err error
		if c, err = r.get(ctx); err != nil {
			return response{}, err
		}
	}
	timer := time.NewTimer(r.limits.Timeout)
	defer timer.Stop()
	done := make(chan error, 1)
	var resp response
	go func() {
		if err := writeFrame(c.stdin, req); err != nil {
			done <- err
			return
		}
		done <- readReply(c.stdout, replyCap(r.limits.MaxBytes), &resp, r.known)
	}()
	var err error
	select {
	case err = <-done:
	case <-timer.C:
		c.kill()
		<-done
		return response{}, &LimitError{Limit: "render-timeout", Msg: fmt.Sprintf("rendering took longer than %s (render-timeout)", r.limits.Timeout)}
	case <-ctx.Done():
		c.kill()
		<-done
		return response{}, ctx.Err()
	}
	if err != nil {
		c.kill()
		return response{}, c.failure("rendering "+req.Kind+" "+req.Dir, r.limits, err)
	}
	s.c = c
	if resp.Log != "" {
		log.Print(resp.Log)
	}
	switch {
	case resp.OverSize:
		return response{}, &LimitError{Limit: "render-max-bytes", Msg: resp.Err}
	case resp.Err != "":
		// Refusals come back as the typed errors the caller reports.
		errs := []error{errors.New(resp.Err)}
		for i := range resp.Outside {
			errs = append(errs, &resp.Outside[i])
		}
		for i := range resp.Remote {
			errs = append(errs, &resp.Remote[i])
		}
		return response{}, errors.Join(errs...)
	}
	return resp, nil
}

// startTimeout bounds a child's start, apart from render-timeout: a
// loaded runner may take seconds to start a process.
const startTimeout = 2 * time.Minute

func (r *Runner) get(ctx context.Context) (*child, error) {
	r.mu.Lock()
	if n := len(r.idle); n > 0 {
		c := r.idle[n-1]
		r.idle = r.idle[:n-1]
		r.mu.Unlock()
		return c, nil
	}
	r.mu.Unlock()
	c, err := startChild(r.limits.Memory())
	if err != nil {
		return nil, fmt.Errorf("internal error: starting a render process: %w", err)
	}
	ready := make(chan error, 1)
	go func() {
		var h hello
		ready <- readFrame(c.stdout, 1<<10, &h)
	}()
	select {
	case err = <-ready:
	case <-time.After(startTimeout):
		err = fmt.Errorf("no answer within %s", startTimeout)
	case <-ctx.Done():
		err = ctx.Err()
	}
	if err != nil {
		c.kill()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, c.failure("starting", r.limits, err)
	}
	return c, nil
}

func (r *Runner) put(c *child) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		c.stdin.Close()
		go c.wait()
		return
	}
	r.idle = append(r.idle, c)
}

// replyCap bounds a reply: the output plus the template sources it is
// traced to, and the encoding.
func replyCap(maxBytes int64) int64 { return 2*maxBytes + 1<<20 }

type child struct {
	cmd      *exec.Cmd
	stdin    io.WriteCloser
	stdout   io.Reader
	stderr   *capped
	waitOnce sync.Once
	waitErr  error
}

func startChild(memory int64) (*child, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	arg := processFlag + strconv.FormatInt(memory, 10)
	cmd := exec.Command(exe, arg)
	// argv[0] as given, so a multi-call binary (a test's) runs the same command.
	cmd.Args = []string{os.Args[0], arg}
	// The runtime says why a child died in its first lines on stderr.
	c := &child{cmd: cmd, stderr: &capped{max: 8 << 10}}
	cmd.Stderr = c.stderr
	if c.stdin, err = cmd.StdinPipe(); err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	c.stdout = out
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *child) kill() {
	c.cmd.Process.Kill()
	c.wait()
}

func (c *child) wait() error {
	c.waitOnce.Do(func() { c.waitErr = c.cmd.Wait() })
	return c.waitErr
}

// failure explains a child that stopped answering: out of memory is the
// memory limit; anything else is an internal error, told without the
// runtime's trace.
func (c *child) failure(doing string, l Limits, err error) error {
	werr := c.wait()
	text := c.stderr.Take()
	for _, oom := range []string{"out of memory", "cannot allocate memory", "errno=12", "stack exceeds", "stack overflow"} {
		if strings.Contains(text, oom) {
			return &LimitError{Limit: "render-max-bytes", Msg: fmt.Sprintf("rendering used more than %d MiB of memory (128 MiB + 8 × render-max-bytes)", l.Memory()>>20)}
		}
	}
	if werr == nil {
		werr = err
	}
	// Under RLIMIT_DATA the runtime can also die of a failed mapping it
	// does not check (seen in kyaml's alias expansion): a segfault in a
	// render process is all but always that limit.
	if strings.Contains(text, "SIGSEGV") {
		return &LimitError{Limit: "render-max-bytes", Msg: fmt.Sprintf("the render process crashed (SIGSEGV), most likely at its memory limit of %d MiB (128 MiB + 8 × render-max-bytes)", l.Memory()>>20)}
	}
	first, _, _ := strings.Cut(strings.TrimSpace(text), "\n")
	if first != "" {
		return fmt.Errorf("internal error: the render process failed %s (%w): %s", doing, werr, first)
	}
	return fmt.Errorf("internal error: the render process failed %s: %w", doing, werr)
}

// capped keeps the first max bytes written to it and drops the rest.
type capped struct {
	mu  sync.Mutex
	max int
	buf bytes.Buffer
}

func (c *capped) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if room := c.max - c.buf.Len(); room > 0 {
		c.buf.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

// Take returns what was kept and starts again.
func (c *capped) Take() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.buf.String()
	c.buf.Reset()
	return s
}

// request and response cross the pipe between a Runner and its child.
type request struct {
	Kind        string
	Dir         string
	ValuesFiles []string
	Cluster     Cluster
	MaxBytes    int64
	// RootDirs are the roots besides the current directory (which the
	// child shares); AllowRemote and RemoteTimeout are KustomizeOptions'.
	RootDirs      []string
	AllowRemote   bool
	RemoteTimeout time.Duration
}

// A response crosses as a frame of its own with Count and without
// Templates and Objects, then one frame for each of those, so that
// neither side holds the whole output twice (as data and encoded).
type response struct {
	Templates []Template
	Objects   []Object
	Count     int
	Err       string
	// OverSize says Err is the output limit.
	OverSize bool
	// Outside and Remote are the refusals behind Err.
	Outside []OutsideError
	Remote  []RemoteError
	// Log is what the renderer logged (kustomize's warnings).
	Log string
}

type hello struct{ Ready bool }

// item is one template or object of a response.
type item struct {
	Template *Template
	Object   *Object
}

// size is about what the response's frames take.
func (r *response) size() int64 {
	var n int64
	for _, t := range r.Templates {
		n += int64(len(t.Source) + len(t.Text) + len(t.Rendered))
	}
	for _, o := range r.Objects {
		n += int64(len(o.Source) + len(o.YAML))
	}
	return n
}

// writeReply writes resp as its frames, letting go of each item once it
// is written.
func writeReply(w io.Writer, resp *response) error {
	head := *resp
	head.Templates, head.Objects = nil, nil
	head.Count = len(resp.Templates) + len(resp.Objects)
	if err := writeFrame(w, head); err != nil {
		return err
	}
	for i := range resp.Templates {
		if err := writeFrame(w, item{Template: &resp.Templates[i]}); err != nil {
			return err
		}
		resp.Templates[i] = Template{}
	}
	for i := range resp.Objects {
		if err := writeFrame(w, item{Object: &resp.Objects[i]}); err != nil {
			return err
		}
		resp.Objects[i] = Object{}
	}
	return nil
}

// readReply reads the frames writeReply wrote, max bytes of them at
// most. An object whose content known says the caller holds already
// comes without its YAML.
func readReply(rd io.Reader, max int64, resp *response, known func([sha256.Size]byte) bool) error {
	cr := &countingReader{r: rd}
	if err := readFrame(cr, max, resp); err != nil {
		return err
	}
	if resp.Count < 0 {
		return fmt.Errorf("reply of %d items", resp.Count)
	}
	for range resp.Count {
		if cr.n > max {
			return fmt.Errorf("reply of more than %d bytes is over the %d allowed", cr.n, max)
		}
		var it item
		if err := readFrame(cr, max-cr.n, &it); err != nil {
			return err
		}
		switch {
		case it.Template != nil:
			resp.Templates = append(resp.Templates, *it.Template)
		case it.Object != nil:
			o := *it.Object
			o.Sum = sha256.Sum256(o.YAML)
			if known != nil && known(o.Sum) {
				o.YAML = nil
			}
			resp.Objects = append(resp.Objects, o)
		default:
			return errors.New("reply item is neither a template nor an object")
		}
	}
	return nil
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// A frame is a big-endian length and a gob.
func encodeFrame(v any) ([]byte, error) {
	var b bytes.Buffer
	b.Write(make([]byte, 8))
	if err := gob.NewEncoder(&b).Encode(v); err != nil {
		return nil, err
	}
	frame := b.Bytes()
	binary.BigEndian.PutUint64(frame, uint64(len(frame)-8))
	return frame, nil
}

func writeFrame(w io.Writer, v any) error {
	frame, err := encodeFrame(v)
	if err != nil {
		return err
	}
	_, err = w.Write(frame)
	return err
}

func readFrame(r io.Reader, max int64, v any) error {
	var head [8]byte
	if _, err := io.ReadFull(r, head[:]); err != nil {
		return err
	}
	n := binary.BigEndian.Uint64(head[:])
	if n > uint64(max) {
		return fmt.Errorf("reply of %d bytes is over the %d allowed", n, max)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(r, body); err != nil {
		return err
	}
	return gob.NewDecoder(bytes.NewReader(body)).Decode(v)
}
