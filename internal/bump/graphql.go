package bump

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
)

// graphQLURL is the GraphQL endpoint beside the REST base: api.github.com
// serves both at its root; GitHub Enterprise Server has REST under
// /api/v3/ and GraphQL at /api/graphql.
func graphQLURL(rest *url.URL) string {
	if p, ok := strings.CutSuffix(rest.Path, "/api/v3/"); ok {
		u := *rest
		u.Path = p + "/api/graphql"
		return u.String()
	}
	return rest.JoinPath("graphql").String()
}

// graphQLMessage is one entry of a GraphQL answer's errors.
type graphQLMessage struct {
	Type    string `json:"type"`
	Message string `json:"message"`
}

// graphQLError is a query GitHub answered with errors (HTTP 200).
type graphQLError struct {
	field  string
	errors []graphQLMessage
}

func (e *graphQLError) Error() string {
	msgs := make([]string, len(e.errors))
	for i, m := range e.errors {
		msgs[i] = m.Message
		if m.Type != "" {
			msgs[i] += " (" + m.Type + ")"
		}
	}
	return fmt.Sprintf("GraphQL %s: %s", e.field, strings.Join(msgs, "; "))
}

// graphQL runs one mutation or query, field naming its top field for
// errors, and decodes the answer's data into data.
func (gh *github) graphQL(ctx context.Context, field, query string, vars map[string]any, data any) error {
	req, err := gh.client.NewRequest("POST", gh.graphqlURL, map[string]any{"query": query, "variables": vars})
	if err != nil {
		return err
	}
	var resp struct {
		Data   json.RawMessage  `json:"data"`
		Errors []graphQLMessage `json:"errors"`
	}
	if _, err := gh.client.Do(ctx, req, &resp); err != nil {
		return fmt.Errorf("GraphQL %s: %w", field, err)
	}
	if len(resp.Errors) > 0 {
		return &graphQLError{field: field, errors: resp.Errors}
	}
	if data == nil {
		return nil
	}
	if err := json.Unmarshal(resp.Data, data); err != nil {
		return fmt.Errorf("GraphQL %s: decode answer: %w", field, err)
	}
	return nil
}
