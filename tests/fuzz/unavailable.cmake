# ctest's stand-in for the fuzz tests where they cannot be built: says why, and fails when the
# environment variable CI is set, since CI machines must run the fuzzers.
#   cmake -DREASON=... -P unavailable.cmake
if(NOT "$ENV{CI}" MATCHES "^(|0|[Ff]alse|FALSE|[Nn]o|NO|[Oo]ff|OFF)$")
  message(FATAL_ERROR "The fuzz tests cannot run, and CI=$ENV{CI} requires them: ${REASON}")
endif()
message(STATUS "SKIPPED: the fuzz tests cannot run: ${REASON}")
