# rm_warnings(<target>): the project's warning set; -Werror when RM_WERROR is on (CI).
function(rm_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow=local
    -Wnon-virtual-dtor -Wno-missing-field-initializers)
  if(RM_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
  if(NOT RM_SANITIZE STREQUAL "")
    # gcc 12's flow-based warnings misfire on sanitizer-instrumented code (e.g. Asio's coroutine
    # frame allocator reported as mismatched new/free); they stay visible but do not fail the
    # sanitizer build. The plain build keeps them as errors.
    target_compile_options(${target} PRIVATE -Wno-mismatched-new-delete
      -Wno-error=maybe-uninitialized -Wno-error=stringop-overflow -Wno-error=array-bounds
      -Wno-error=restrict -Wno-error=free-nonheap-object -Wno-error=use-after-free
      -Wno-error=dangling-pointer -Wno-error=null-dereference -Wno-error=stringop-overread)
  endif()
endfunction()
