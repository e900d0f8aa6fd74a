package provider

import (
	"context"
	"errors"
	"runtime"
	"testing"
	"time"
	"weak"

	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
)

type ctxKey struct{}

func TestReleasable_standsForItsParentUntilReleased(t *testing.T) {
	deadline := time.Now().Add(time.Hour)
	parent, cancel := context.WithDeadline(context.WithValue(context.Background(), ctxKey{}, "v"), deadline)
	defer cancel()
	rc := newReleasable(parent)
	if got := rc.Value(ctxKey{}); got != "v" {
		t.Fatalf("Value = %v, want the parent's", got)
	}
	if d, ok := rc.Deadline(); !ok || !d.Equal(deadline) {
		t.Fatalf("Deadline = %v, %v, want the parent's", d, ok)
	}
	if rc.Err() != nil {
		t.Fatalf("Err = %v before anything ended", rc.Err())
	}
	select {
	case <-rc.Done():
		t.Fatal("done before anything ended")
	default:
	}

	rc.release()
	<-rc.Done()
	if !errors.Is(rc.Err(), context.Canceled) {
		t.Fatalf("Err after release = %v, want Canceled", rc.Err())
	}
	if got := rc.Value(ctxKey{}); got != nil {
		t.Fatalf("Value after release = %v, want nothing", got)
	}
	if _, ok := rc.Deadline(); ok {
		t.Fatal("a deadline after release")
	}
	rc.release() // twice is harmless
}

func TestReleasable_endsWithItsParent(t *testing.T) {
	parent, cancel := context.WithTimeout(context.Background(), time.Millisecond)
	defer cancel()
	rc := newReleasable(parent)
	defer rc.release()
	child, stop := context.WithCancel(rc)
	defer stop()
	select {
	case <-child.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the parent's deadline did not reach a context derived from the releasable one")
	}
	if !errors.Is(rc.Err(), context.DeadlineExceeded) {
		t.Fatalf("Err = %v, want the parent's DeadlineExceeded", rc.Err())
	}
}

// What the framework keeps of a request (a context derived from the one it
// is given, until StopProvider) must not keep the request's own context.
func TestReleasingServer_requestContextIsNotKept(t *testing.T) {
	type payload struct{ _ [1 << 16]byte }
	// Kept and never called, as the framework keeps them.
	var kept []context.Context
	var cancels []context.CancelFunc
	keeper := keepingServer{keep: func(ctx context.Context) {
		child, cancel := context.WithCancel(ctx)
		kept, cancels = append(kept, child), append(cancels, cancel)
	}}
	server := releasingServer{keeper}

	var ref weak.Pointer[payload]
	func() {
		p := &payload{}
		ref = weak.Make(p)
		ctx, cancel := context.WithCancel(context.WithValue(context.Background(), ctxKey{}, p))
		defer cancel()
		if _, err := server.ReadResource(ctx, &tfprotov6.ReadResourceRequest{}); err != nil {
			t.Fatal(err)
		}
	}()
	for range 5 {
		runtime.GC()
	}
	if ref.Value() != nil {
		t.Fatal("the request's context is still reachable from what the framework kept")
	}
	if len(kept) != 1 || len(cancels) != 1 || kept[0].Err() == nil {
		t.Fatalf("kept = %v, want one context, done", kept)
	}
}

// keepingServer is a ProviderServer whose ReadResource keeps a context
// derived from the request's, as terraform-plugin-framework does.
type keepingServer struct {
	tfprotov6.ProviderServer
	keep func(context.Context)
}

func (s keepingServer) ReadResource(ctx context.Context, _ *tfprotov6.ReadResourceRequest) (*tfprotov6.ReadResourceResponse, error) {
	s.keep(ctx)
	return &tfprotov6.ReadResourceResponse{}, nil
}

func TestNewServer_servesTheProvider(t *testing.T) {
	server := NewServer("test")()
	resp, err := server.GetProviderSchema(context.Background(), &tfprotov6.GetProviderSchemaRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if resp.ResourceSchemas["airflowiam_connection"] == nil {
		t.Fatalf("no airflowiam_connection among %d resource schemas", len(resp.ResourceSchemas))
	}
}

func TestQuietLogsUnlessWanted(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  map[string]string
		want map[string]string // variables set, and to what
	}{
		{"no log wanted", map[string]string{}, map[string]string{
			"TF_LOG_SDK": "off", "TF_LOG_SDK_PROTO": "off", "TF_LOG_SDK_FRAMEWORK": "off", "TF_LOG_PROVIDER_AIRFLOWIAM": "off"}},
		{"a level kept", map[string]string{"TF_LOG_PROVIDER_AIRFLOWIAM": "debug"}, map[string]string{
			"TF_LOG_SDK": "off", "TF_LOG_SDK_PROTO": "off", "TF_LOG_SDK_FRAMEWORK": "off"}},
		{"TF_LOG", map[string]string{"TF_LOG": "info"}, map[string]string{}},
		{"TF_LOG_PROVIDER", map[string]string{"TF_LOG_PROVIDER": "trace"}, map[string]string{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			set := map[string]string{}
			err := QuietLogsUnlessWanted(func(k string) string { return tc.env[k] },
				func(k, v string) error { set[k] = v; return nil })
			if err != nil {
				t.Fatal(err)
			}
			if len(set) != len(tc.want) {
				t.Fatalf("set %v, want %v", set, tc.want)
			}
			for k, v := range tc.want {
				if set[k] != v {
					t.Fatalf("set %v, want %v", set, tc.want)
				}
			}
		})
	}
}
