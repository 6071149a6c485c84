# ctest's driver for one fuzz target: copies the seed corpus into a fresh working directory in
# the build tree (libFuzzer adds the inputs it finds to it; the source tree stays untouched),
# then runs the fuzzer with the bounded arguments from CONFIG. A crash, a leak, a sanitizer
# report or an input that runs past -timeout fails the test; the input is kept in WORK_DIR.
#   cmake -DCONFIG=build/.../fuzz_NAME.cmake -P run_fuzzer.cmake
include("${CONFIG}")

if(NOT EXISTS "${FUZZER}")
  message(FATAL_ERROR "${FUZZER} was not built (it is the ExternalProject sov_fuzz_targets)")
endif()

file(REMOVE_RECURSE "${WORK_DIR}")
file(MAKE_DIRECTORY "${WORK_DIR}/corpus" "${WORK_DIR}/artifacts")
foreach(seed IN LISTS SEEDS)
  if(IS_DIRECTORY "${seed}")
    file(GLOB files LIST_DIRECTORIES false "${seed}/*")
  else()
    set(files "${seed}")
  endif()
  if(files)
    file(COPY ${files} DESTINATION "${WORK_DIR}/corpus")
  endif()
endforeach()

set(ENV{UBSAN_OPTIONS} "print_stacktrace=1")
list(JOIN FUZZER_ARGS " " shown_args)
message(STATUS "Running ${FUZZER} ${shown_args} ${WORK_DIR}/corpus")
execute_process(
  COMMAND "${FUZZER}" ${FUZZER_ARGS} "-artifact_prefix=${WORK_DIR}/artifacts/"
          "${WORK_DIR}/corpus"
  RESULT_VARIABLE result)
if(NOT result EQUAL 0)
  file(GLOB found "${WORK_DIR}/artifacts/*")
  message(FATAL_ERROR "${FUZZER} failed (${result}). The input is in: ${found}\n"
                      "Reproduce with: ${FUZZER} <input>")
endif()
