# ctest fuzz.qcow2_open, fuzz.virtio_net, fuzz.remote_packet,
# fuzz.domain_xml and fuzz.jit_lockstep: fuzz/run_fuzz.sh builds the
# target in fuzz/ with clang in its own tree and fuzzes it for a minute or
# half a minute. Registered only where clang can link a libFuzzer target
# (Debian: clang, libclang-rt-14-dev). They share that build tree, so
# they never run at the same time.
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
                     ${CMAKE_BINARY_DIR}/fuzz 60 qcow2_open_fuzz)
    add_test(NAME fuzz.virtio_net
             COMMAND sh ${CMAKE_SOURCE_DIR}/fuzz/run_fuzz.sh ${VESSEL_FUZZ_CLANGXX}
                     ${CMAKE_BINARY_DIR}/fuzz 30 virtio_net_fuzz)
    add_test(NAME fuzz.remote_packet
             COMMAND sh ${CMAKE_SOURCE_DIR}/fuzz/run_fuzz.sh ${VESSEL_FUZZ_CLANGXX}
                     ${CMAKE_BINARY_DIR}/fuzz 30 remote_packet_fuzz)
    add_test(NAME fuzz.domain_xml
             COMMAND sh ${CMAKE_SOURCE_DIR}/fuzz/run_fuzz.sh ${VESSEL_FUZZ_CLANGXX}
                     ${CMAKE_BINARY_DIR}/fuzz 30 domain_xml_fuzz)
    add_test(NAME fuzz.jit_lockstep
             COMMAND sh ${CMAKE_SOURCE_DIR}/fuzz/run_fuzz.sh ${VESSEL_FUZZ_CLANGXX}
                     ${CMAKE_BINARY_DIR}/fuzz 30 jit_lockstep_fuzz)
    set_tests_properties(fuzz.qcow2_open fuzz.virtio_net fuzz.remote_packet fuzz.domain_xml
                         fuzz.jit_lockstep
                         PROPERTIES
                         TIMEOUT 1200 SKIP_RETURN_CODE 77 RESOURCE_LOCK vessel_fuzz_build)
  endif()
endif()
