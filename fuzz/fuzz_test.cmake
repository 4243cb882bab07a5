# ctest fuzz.qcow2_open: fuzz/run_fuzz.sh builds fuzz/ with clang in its own
# tree and fuzzes for a minute. Registered only where clang can link a
# libFuzzer target (Debian: clang, libclang-rt-14-dev).
find_program(VESSEL_FUZZ_CLANGXX NAMES clang++ clang++-14)
if(VESSEL_FUZZ_CLANGXX)
  set(probe ${CMAKE_BINARY_DIR}/fuzz_probe)
  file(WRITE ${probe}.cc
       "extern \"C\" int LLVMFuzzerTestOneInput(const unsigned char*, unsigned long) { return 0; }\n")
  execute_process(COMMAND ${VESSEL_FUZZ_CLANGXX} -fsanitize=fuzzer ${probe}.cc -o ${probe}
                  RESULT_VARIABLE probe_status OUTPUT_QUIET ERROR_QUIET)
  if(probe_status EQUAL 0)
    add_test(NAME fuzz.qcow2_open
             COMMAND sh ${CMAKE_SOURCE_DIR}/fuzz/run_fuzz.sh ${VESSEL_FUZZ_CLANGXX}
                     ${CMAKE_BINARY_DIR}/fuzz 60)
    set_tests_properties(fuzz.qcow2_open PROPERTIES TIMEOUT 1200 SKIP_RETURN_CODE 77)
  endif()
endif()
