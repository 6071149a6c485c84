# Writes OUTPUT, a C++ source that defines sov::gateway::internal::SYMBOL as the text of INPUT.
# Run with: cmake -DINPUT=... -DOUTPUT=... -DSYMBOL=... -P embed_text.cmake
file(READ "${INPUT}" content)
set(delimiter "sov_embed")
string(FIND "${content}" ")${delimiter}\"" clash)
if(NOT clash EQUAL -1)
  message(FATAL_ERROR "${INPUT} contains the raw-string delimiter )${delimiter}\"")
endif()
file(WRITE "${OUTPUT}.tmp"
  "// Generated from ${INPUT} by gateway/embed_text.cmake; do not edit.\n"
  "namespace sov::gateway::internal {\n"
  "extern const char ${SYMBOL}[];\n"
  "const char ${SYMBOL}[] = R\"${delimiter}(${content})${delimiter}\";\n"
  "}  // namespace sov::gateway::internal\n")
file(RENAME "${OUTPUT}.tmp" "${OUTPUT}")
