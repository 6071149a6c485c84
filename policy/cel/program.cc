#include "policy/cel/program.h"

#include "policy/cel/internal/evaluator.h"

namespace sov::policy::cel {

void Activation::Bind(std::string_view name, Value value) {
  for (auto& b : bindings_) {
    if (b.name == name) {
      b.owned = std::move(value);
      b.ref = nullptr;
      return;
    }
  }
  bindings_.push_back(Binding{std::string(name), std::move(value), nullptr});
  if (name.find('.') != std::string_view::npos) has_qualified_names_ = true;
}

void Activation::BindRef(std::string_view name, const Value* value) {
  for (auto& b : bindings_) {
    if (b.name == name) {
      b.owned = Value();
      b.ref = value;
      return;
    }
  }
  bindings_.push_back(Binding{std::string(name), Value(), value});
  if (name.find('.') != std::string_view::npos) has_qualified_names_ = true;
}

const Value* Activation::Find(std::string_view name) const {
  for (const auto& b : bindings_) {
    if (b.name == name) return b.ref != nullptr ? b.ref : &b.owned;
  }
  return nullptr;
}

Value Program::Evaluate(const Activation& activation) const {
  return internal::EvaluateProgram(*impl_, activation);
}

Result<bool> Program::EvaluateBool(const Activation& activation) const {
  Value v = Evaluate(activation);
  if (v.is_bool()) return v.bool_value();
  if (v.is_error()) return Status(v.error().code, FormatError(v.error()));
  return InvalidArgument("1:1: expression evaluated to " + std::string(KindName(v.kind())) +
                         ", not bool");
}

const std::string& Program::source() const { return impl_->source; }

Result<Program> Compile(std::string_view source, const CompileOptions& options) {
  SOV_ASSIGN_OR_RETURN(std::unique_ptr<Expr> ast, Parse(source, options.parse));
  SOV_ASSIGN_OR_RETURN(std::unique_ptr<internal::CompiledProgram> compiled,
                       internal::CompileTree(source, *ast, options));
  return Program(std::shared_ptr<const internal::CompiledProgram>(std::move(compiled)));
}

std::string FormatError(const ErrorInfo& error) {
  if (!error.position.known()) return error.message;
  return std::to_string(error.position.line) + ":" + std::to_string(error.position.column) + ": " +
         error.message;
}

}  // namespace sov::policy::cel
