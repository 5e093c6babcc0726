package worker

import (
	"context"
	"fmt"

	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/rudderhook/rudderhook/workflows"
)

// EnsureSearchAttributes registers on namespace the custom search attributes that call workflows carry,
// adding only those missing. It needs operator rights: on Temporal Cloud, create them with tcld or the
// Cloud UI instead (the README lists them).
func EnsureSearchAttributes(ctx context.Context, c client.Client, namespace string) (added []string, err error) {
	ops := c.OperatorService()
	have, err := ops.ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: namespace})
	if err != nil {
		return nil, fmt.Errorf("list search attributes of %s: %w", namespace, err)
	}
	missing := workflows.SearchAttributeTypes()
	for name := range have.GetCustomAttributes() {
		delete(missing, name)
	}
	if len(missing) == 0 {
		return nil, nil
	}
	if _, err := ops.AddSearchAttributes(ctx, &operatorservice.AddSearchAttributesRequest{
		Namespace: namespace, SearchAttributes: missing,
	}); err != nil {
		return nil, fmt.Errorf("add search attributes to %s: %w", namespace, err)
	}
	for name := range missing {
		added = append(added, name)
	}
	return added, nil
}
