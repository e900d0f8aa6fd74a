package provider

import (
	"context"
	"sync"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/provider"
	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
)

// NewServer is the provider's protocol server: the framework's, with each
// per-resource request given a context it cannot keep.
//
// terraform-plugin-framework v1.19.0 derives a cancelable context from
// every request's and keeps its cancel function until StopProvider
// (registerContext in internal/proto6server/serve.go), which Terraform
// sends only on an interrupt. Each kept function holds its request's whole
// context: the loggers, their fields and the gRPC stream, about 10 KB. At
// 1,000 connections a refresh-only plan makes about 2,000 such requests
// (UpgradeResourceState and ReadResource for each), so the provider's live
// heap grew from 12 to 40 MB during the plan, and the garbage collector's
// target with it (measured with AIRFLOWIAM_PROFILE_DIR, profile.go).
//
// The requests that come once per resource are therefore called with a
// releasable context: it answers Value, Deadline, Done and Err from the
// request's own context while the request runs, and when it returns it is
// done and forgets that context, so what the framework keeps is a few
// words. Requests that come a handful of times per process (schemas,
// ConfigureProvider, StopProvider) are passed through unchanged; the
// provider's clients are built in ConfigureProvider and may keep its
// context.
func NewServer(version string) func() tfprotov6.ProviderServer {
	return ServerFor(New(version)())
}

// ServerFor is NewServer for any framework provider (make bench's no-op
// floor is served the same way).
func ServerFor(p provider.Provider) func() tfprotov6.ProviderServer {
	framework := providerserver.NewProtocol6(p)
	return func() tfprotov6.ProviderServer { return releasingServer{framework()} }
}

// releasingServer calls its ProviderServer's per-resource requests with a
// releasable context. The protocol's optional servers (list resources,
// actions, state stores) are not offered: the provider has none.
type releasingServer struct {
	tfprotov6.ProviderServer
}

// call runs f with a releasable view of ctx, released when f returns.
func call[Req, Resp any](ctx context.Context, req Req, f func(context.Context, Req) (Resp, error)) (Resp, error) {
	rc := newReleasable(ctx)
	defer rc.release()
	return f(rc, req)
}

func (s releasingServer) ValidateResourceConfig(ctx context.Context, req *tfprotov6.ValidateResourceConfigRequest) (*tfprotov6.ValidateResourceConfigResponse, error) {
	return call(ctx, req, s.ProviderServer.ValidateResourceConfig)
}

func (s releasingServer) UpgradeResourceState(ctx context.Context, req *tfprotov6.UpgradeResourceStateRequest) (*tfprotov6.UpgradeResourceStateResponse, error) {
	return call(ctx, req, s.ProviderServer.UpgradeResourceState)
}

func (s releasingServer) UpgradeResourceIdentity(ctx context.Context, req *tfprotov6.UpgradeResourceIdentityRequest) (*tfprotov6.UpgradeResourceIdentityResponse, error) {
	return call(ctx, req, s.ProviderServer.UpgradeResourceIdentity)
}

func (s releasingServer) ReadResource(ctx context.Context, req *tfprotov6.ReadResourceRequest) (*tfprotov6.ReadResourceResponse, error) {
	return call(ctx, req, s.ProviderServer.ReadResource)
}

func (s releasingServer) PlanResourceChange(ctx context.Context, req *tfprotov6.PlanResourceChangeRequest) (*tfprotov6.PlanResourceChangeResponse, error) {
	return call(ctx, req, s.ProviderServer.PlanResourceChange)
}

func (s releasingServer) ApplyResourceChange(ctx context.Context, req *tfprotov6.ApplyResourceChangeRequest) (*tfprotov6.ApplyResourceChangeResponse, error) {
	return call(ctx, req, s.ProviderServer.ApplyResourceChange)
}

func (s releasingServer) ImportResourceState(ctx context.Context, req *tfprotov6.ImportResourceStateRequest) (*tfprotov6.ImportResourceStateResponse, error) {
	return call(ctx, req, s.ProviderServer.ImportResourceState)
}

func (s releasingServer) MoveResourceState(ctx context.Context, req *tfprotov6.MoveResourceStateRequest) (*tfprotov6.MoveResourceStateResponse, error) {
	return call(ctx, req, s.ProviderServer.MoveResourceState)
}

func (s releasingServer) ValidateDataResourceConfig(ctx context.Context, req *tfprotov6.ValidateDataResourceConfigRequest) (*tfprotov6.ValidateDataResourceConfigResponse, error) {
	return call(ctx, req, s.ProviderServer.ValidateDataResourceConfig)
}

func (s releasingServer) ReadDataSource(ctx context.Context, req *tfprotov6.ReadDataSourceRequest) (*tfprotov6.ReadDataSourceResponse, error) {
	return call(ctx, req, s.ProviderServer.ReadDataSource)
}

func (s releasingServer) ValidateEphemeralResourceConfig(ctx context.Context, req *tfprotov6.ValidateEphemeralResourceConfigRequest) (*tfprotov6.ValidateEphemeralResourceConfigResponse, error) {
	return call(ctx, req, s.ProviderServer.ValidateEphemeralResourceConfig)
}

func (s releasingServer) OpenEphemeralResource(ctx context.Context, req *tfprotov6.OpenEphemeralResourceRequest) (*tfprotov6.OpenEphemeralResourceResponse, error) {
	return call(ctx, req, s.ProviderServer.OpenEphemeralResource)
}

func (s releasingServer) RenewEphemeralResource(ctx context.Context, req *tfprotov6.RenewEphemeralResourceRequest) (*tfprotov6.RenewEphemeralResourceResponse, error) {
	return call(ctx, req, s.ProviderServer.RenewEphemeralResource)
}

func (s releasingServer) CloseEphemeralResource(ctx context.Context, req *tfprotov6.CloseEphemeralResourceRequest) (*tfprotov6.CloseEphemeralResourceResponse, error) {
	return call(ctx, req, s.ProviderServer.CloseEphemeralResource)
}

func (s releasingServer) CallFunction(ctx context.Context, req *tfprotov6.CallFunctionRequest) (*tfprotov6.CallFunctionResponse, error) {
	return call(ctx, req, s.ProviderServer.CallFunction)
}

// releasable is a context that stands for its parent until released, and
// is then done and holds nothing of it.
type releasable struct {
	mu     sync.Mutex
	parent context.Context // nil once released
	done   chan struct{}
	err    error
	stop   func() bool // unregisters the parent's AfterFunc
}

func newReleasable(parent context.Context) *releasable {
	r := &releasable{parent: parent, done: make(chan struct{})}
	r.stop = context.AfterFunc(parent, func() { r.finish(parent.Err()) })
	return r
}

// finish makes r done with err, once.
func (r *releasable) finish(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err == nil {
		r.err = err
		close(r.done)
	}
}

// release ends r: it is done (canceled, unless its parent ended first) and
// forgets its parent.
func (r *releasable) release() {
	r.mu.Lock()
	// The stop function holds the parent too.
	stop := r.stop
	r.parent, r.stop = nil, nil
	r.mu.Unlock()
	if stop != nil {
		stop()
	}
	r.finish(context.Canceled)
}

func (r *releasable) current() context.Context {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.parent
}

func (r *releasable) Deadline() (time.Time, bool) {
	if p := r.current(); p != nil {
		return p.Deadline()
	}
	return time.Time{}, false
}

func (r *releasable) Done() <-chan struct{} { return r.done }

func (r *releasable) Err() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}

func (r *releasable) Value(key any) any {
	if p := r.current(); p != nil {
		return p.Value(key)
	}
	return nil
}

// pluginLogLevels are the variables that set the levels of
// terraform-plugin-go's, terraform-plugin-framework's and this provider's
// loggers (terraform-plugin-go internal/logging/environment_variables.go,
// terraform-plugin-framework internal/logging/environment_variables.go, and
// TF_LOG_PROVIDER_ followed by the provider's name).
var pluginLogLevels = []string{"TF_LOG_SDK", "TF_LOG_SDK_PROTO", "TF_LOG_SDK_FRAMEWORK", "TF_LOG_PROVIDER_AIRFLOWIAM"}

// QuietLogsUnlessWanted turns the plugin's loggers off when Terraform
// shows no provider log: neither TF_LOG nor TF_LOG_PROVIDER is set in the
// environment Terraform passes to the provider
// (https://developer.hashicorp.com/terraform/internals/debugging,
// https://developer.hashicorp.com/terraform/plugin/log/managing). Unset,
// every logger runs at TRACE and writes each message as JSON to a pipe
// that Terraform reads and drops: at 1,000 connections that was a quarter
// of the provider's CPU in a refresh-only plan. A level set for one of the
// loggers is kept.
func QuietLogsUnlessWanted(getenv func(string) string, setenv func(string, string) error) error {
	if getenv("TF_LOG") != "" || getenv("TF_LOG_PROVIDER") != "" {
		return nil
	}
	for _, name := range pluginLogLevels {
		if getenv(name) == "" {
			if err := setenv(name, "off"); err != nil {
				return err
			}
		}
	}
	return nil
}
