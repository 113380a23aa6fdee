package action

import (
	"errors"
	"fmt"
)

// Exit codes shared by every action.
const (
	ExitOK       = 0 // done, nothing blocking
	ExitFindings = 1 // blocking findings
	ExitUsage    = 2 // bad input or usage
	ExitExternal = 3 // something outside failed after retries
)

// ExitError carries the exit code an error ends the run with.
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("exit code %d", e.Code)
	}
	return e.Err.Error()
}

func (e *ExitError) Unwrap() error { return e.Err }

// Usage is a bad-input error naming the input: exit 2.
func Usage(input, format string, args ...any) error {
	return &ExitError{Code: ExitUsage, Err: fmt.Errorf("input %q: %s", input, fmt.Sprintf(format, args...))}
}

// UsageErr wraps err as a bad-input error naming the input: exit 2.
func UsageErr(input string, err error) error {
	return &ExitError{Code: ExitUsage, Err: fmt.Errorf("input %q: %w", input, err)}
}

// External marks a failure of something outside (registry, git remote, API): exit 3.
func External(err error) error {
	if err == nil {
		return nil
	}
	return &ExitError{Code: ExitExternal, Err: err}
}

// Blocking marks blocking findings or a refused change: exit 1.
func Blocking(err error) error {
	if err == nil {
		return nil
	}
	return &ExitError{Code: ExitFindings, Err: err}
}

// ErrFindings ends a run with exit 1 when the findings already say why.
var ErrFindings = &ExitError{Code: ExitFindings, Err: errors.New("blocking findings")}

// CodeOf returns the exit code for err: its ExitError's code, else 3.
func CodeOf(err error) int {
	if err == nil {
		return ExitOK
	}
	var e *ExitError
	if errors.As(err, &e) {
		return e.Code
	}
	return ExitExternal
}
