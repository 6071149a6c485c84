#include "gateway/governance_service.h"

#include <utility>

namespace sov::gateway {

GovernanceService::GovernanceService(std::shared_ptr<const CallGuard> guard,
                                     std::shared_ptr<registry::Registry> registry,
                                     std::shared_ptr<const TenantDirectory> tenants,
                                     size_t sweep_concurrency)
    : guard_(std::move(guard)),
      registry_(std::move(registry)),
      tenants_(std::move(tenants)),
      sweep_concurrency_(sweep_concurrency) {}

}  // namespace sov::gateway
