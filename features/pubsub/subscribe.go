package pubsub

import (
	"context"
	"errors"
	"fmt"
	"strings"

	ps "cloud.google.com/go/pubsub/v2"
	"google.golang.org/api/option"

	"github.com/hydrocast/hydrocast/features"
)

// ErrSubscriptionName is wrapped by the error about a subscription name that is not
// of the form projects/PROJECT/subscriptions/ID.
var ErrSubscriptionName = errors.New("invalid subscription name")

// ParseSubscription splits a full subscription name,
// projects/PROJECT/subscriptions/ID, into its project and id.
func ParseSubscription(name string) (project, id string, err error) {
	parts := strings.Split(name, "/")
	if len(parts) != 4 || parts[0] != "projects" || parts[2] != "subscriptions" ||
		parts[1] == "" || parts[3] == "" {
		return "", "", fmt.Errorf("%w %q: want projects/PROJECT/subscriptions/ID",
			ErrSubscriptionName, name)
	}
	return parts[1], parts[3], nil
}

// Subscribe connects to the subscription with the full name
// projects/PROJECT/subscriptions/ID and returns a source of its readings for the
// store; Run receives them, and Close ends the connection. The client finds its
// credentials the usual Google Cloud way (Application Default Credentials); with
// PUBSUB_EMULATOR_HOST set it talks to that emulator, without credentials. Client
// options, when given, override both.
func Subscribe(ctx context.Context, subscription string, store features.OnlineStore,
	opts *Options, clientOpts ...option.ClientOption) (*Source, error) {
	project, _, err := ParseSubscription(subscription)
	if err != nil {
		return nil, err
	}
	client, err := ps.NewClient(ctx, project, clientOpts...)
	if err != nil {
		return nil, fmt.Errorf("connect to Pub/Sub for %s: %w", subscription, err)
	}
	src, err := New(client.Subscriber(subscription), store, opts)
	if err != nil {
		client.Close()
		return nil, err
	}
	src.client = client
	return src, nil
}

// Close ends the connection Subscribe made; it does nothing for a source made by
// New, whose caller owns the client. Call it after Run returned.
func (s *Source) Close() error {
	if s.client == nil {
		return nil
	}
	if err := s.client.Close(); err != nil {
		return fmt.Errorf("close Pub/Sub client: %w", err)
	}
	return nil
}
