package prune

import (
	"context"
	"time"
)

// Version is one manifest a provider lists: what a delete acts on.
type Version struct {
	// ID is the provider's handle for deletes: the GitHub package version
	// ID for ghcr, the digest elsewhere.
	ID        string
	Digest    string
	Tags      []string
	MediaType string
	// Created is zero when the provider could not tell; such a version
	// never counts as old.
	Created time.Time
}

// Step is one planned delete.
type Step struct {
	Version Version
	// Tags are the tags to remove.
	Tags []string
	// Manifest is set when the manifest itself goes (no tag is left on it).
	Manifest bool
}

// Provider lists and deletes the versions of one repository.
type Provider interface {
	// Kind is the provider's name (ghcr, google, quay, registry).
	Kind() string
	// ListsUntagged reports whether List returns manifests no tag names.
	ListsUntagged() bool
	// UntagsAlone reports whether a tag can be removed while its manifest
	// stays; where it cannot, removing a tag deletes the manifest and every
	// other tag on it.
	UntagsAlone() bool
	List(ctx context.Context) ([]Version, error)
	Delete(ctx context.Context, s Step) error
}
