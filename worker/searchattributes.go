package worker

import (
	"context"
	"fmt"
	"maps"
	"slices"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/rudderhook/rudderhook/workflows"
)

// MissingSearchAttributes lists the custom search attributes that call workflows carry and namespace
// lacks. Without them every workflow start is refused, and callbacks wait in the inbox.
func MissingSearchAttributes(ctx context.Context, c client.Client, namespace string) (map[string]enumspb.IndexedValueType, error) {
	have, err := c.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: namespace})
	if err != nil {
		return nil, fmt.Errorf("list search attributes of %s: %w", namespace, err)
	}
	missing := workflows.SearchAttributeTypes()
	for name := range have.GetCustomAttributes() {
		delete(missing, name)
	}
	return missing, nil
}

// EnsureSearchAttributes registers on namespace the custom search attributes that call workflows carry,
// adding only those missing. It needs operator rights: on Temporal Cloud, create them with tcld or the
// Cloud UI instead (the README lists them).
func EnsureSearchAttributes(ctx context.Context, c client.Client, namespace string) (added []string, err error) {
	missing, err := MissingSearchAttributes(ctx, c, namespace)
	if err != nil || len(missing) == 0 {
		return nil, err
	}
	if _, err := c.OperatorService().AddSearchAttributes(ctx, &operatorservice.AddSearchAttributesRequest{
		Namespace: namespace, SearchAttributes: missing,
	}); err != nil {
		return nil, fmt.Errorf("add search attributes to %s: %w", namespace, err)
	}
	return slices.Sorted(maps.Keys(missing)), nil
}
