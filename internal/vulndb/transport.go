package vulndb

import (
	"context"
	"net/http"

	xhttp "github.com/aquasecurity/trivy/pkg/x/http"

	"github.com/gitops-actions/gitops-actions/internal/transport"
)

// trivyTransport hands trivy's downloads the toolkit's transport, so the
// database fetch has the same timeouts and retries as every other request.
type trivyTransport struct{ t *transport.Transport }

func (a trivyTransport) Build(opts ...xhttp.TransportOption) http.RoundTripper {
	if len(opts) == 0 {
		return a.t
	}
	return a.t.WithBase(func(b *http.Transport) {
		for _, o := range opts {
			o(b)
		}
	})
}

func withTransport(ctx context.Context) context.Context {
	return xhttp.WithTransport(ctx, trivyTransport{transport.For(ctx)})
}
