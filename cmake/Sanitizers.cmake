# RM_SANITIZE=address: ASan + UBSan. The UBSan checks vptr, null and alignment are left out:
# they instrument every member access and more than double gcc's compile time of the Asio/Beast
# code (measured: 36 s ASan, 101 s ASan+full UBSan, 45 s with these three off, one TU), while
# null dereferences still fault under ASan. Every other UBSan check (overflow, shifts, bounds,
# enums, bools, float casts, unreachable, ...) stays on and aborts on the first report.
if(RM_SANITIZE STREQUAL "address")
  add_compile_options(-fsanitize=address,undefined -fno-sanitize=vptr,null,alignment
                      -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
elseif(RM_SANITIZE STREQUAL "thread")
  add_compile_options(-fsanitize=thread -fno-omit-frame-pointer)
  add_link_options(-fsanitize=thread)
elseif(NOT RM_SANITIZE STREQUAL "")
  message(FATAL_ERROR "RM_SANITIZE must be '', 'address' or 'thread', got '${RM_SANITIZE}'")
endif()
