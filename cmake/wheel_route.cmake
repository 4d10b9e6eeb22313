# Wheel route fix-ups shared by face_anything_ros and the message packages in interfaces/ (both
# no-ops under a normal ROS install). Include after the find_package() of the message dependencies
# (listed in MESSAGE_DEPENDENCIES), then call face_anything_fix_wheel_targets() before
# rosidl_generate_interfaces() and face_anything_rewrite_include_dirs(<project>__rosidl_generator_py
# BUILD_ONLY_IN_TREE) after it.
set(Python3_FIND_UNVERSIONED_NAMES FIRST)
find_package(Python3 REQUIRED COMPONENTS Interpreter Development.Module NumPy)

# Rewrites the INTERFACE_INCLUDE_DIRECTORIES of `target` (generator expressions are kept as is):
#  MODE REPLACE_MISSING: drops directories that do not exist and, if any were dropped, adds this
#    machine's Python and NumPy include directories;
#  MODE BUILD_ONLY_IN_TREE: wraps directories inside the source or build tree in
#    $<BUILD_INTERFACE:...> so they are used for compiling but not exported.
function(face_anything_rewrite_include_dirs target mode)
  if(NOT TARGET ${target})
    return()
  endif()
  get_target_property(include_dirs ${target} INTERFACE_INCLUDE_DIRECTORIES)
  if(NOT include_dirs)
    return()
  endif()
  set(rewritten "")
  set(changed FALSE)
  foreach(dir ${include_dirs})
    string(FIND "${dir}" "${CMAKE_SOURCE_DIR}/" in_source)
    string(FIND "${dir}" "${CMAKE_BINARY_DIR}/" in_build)
    if(dir MATCHES "^\\$<")
      list(APPEND rewritten "${dir}")
    elseif(mode STREQUAL "REPLACE_MISSING" AND NOT EXISTS "${dir}")
      set(changed TRUE)
    elseif(mode STREQUAL "BUILD_ONLY_IN_TREE" AND (in_source EQUAL 0 OR in_build EQUAL 0))
      list(APPEND rewritten "$<BUILD_INTERFACE:${dir}>")
      set(changed TRUE)
    else()
      list(APPEND rewritten "${dir}")
    endif()
  endforeach()
  if(changed AND mode STREQUAL "REPLACE_MISSING")
    list(APPEND rewritten ${Python3_INCLUDE_DIRS} ${Python3_NumPy_INCLUDE_DIRS})
    list(REMOVE_DUPLICATES rewritten)
  endif()
  if(changed)
    set_target_properties(${target} PROPERTIES INTERFACE_INCLUDE_DIRECTORIES "${rewritten}")
    message(STATUS "face_anything_ros: ${mode} include dirs of ${target}")
  endif()
endfunction()

# 1. The ROS 2 PyPI wheels export `<pkg>::<pkg>__rosidl_generator_py` targets whose include
# directories point into the wheel build machine's Python (/opt/python/...), which does not exist
# here; CMake rejects imported targets with missing include paths. Under a real ROS install all
# paths exist, so nothing changes. Every imported target is visited (CMake >= 3.21), so indirect
# dependencies (e.g. service_msgs) are fixed too; the direct ones are also named for older CMake.
macro(face_anything_fix_wheel_targets)
  set(imported_targets "")
  if(CMAKE_VERSION VERSION_GREATER_EQUAL 3.21)
    get_directory_property(imported_targets IMPORTED_TARGETS)
  endif()
  foreach(dependency ${MESSAGE_DEPENDENCIES})
    list(APPEND imported_targets "${dependency}::${dependency}__rosidl_generator_py")
  endforeach()
  list(REMOVE_DUPLICATES imported_targets)
  foreach(target ${imported_targets})
    if(target MATCHES "__rosidl_generator_py$")
      face_anything_rewrite_include_dirs(${target} REPLACE_MISSING)
    endif()
  endforeach()
endmacro()

# The whole build of one upstream message package in interfaces/ (after project()):
#   face_anything_upstream_messages(DEPENDENCIES <pkg>... MESSAGES "msg/A.msg"...)
macro(face_anything_upstream_messages)
  cmake_parse_arguments(UPSTREAM "" "" "DEPENDENCIES;MESSAGES" ${ARGN})
  find_package(ament_cmake REQUIRED)
  find_package(rosidl_default_generators REQUIRED)
  set(MESSAGE_DEPENDENCIES ${UPSTREAM_DEPENDENCIES})
  foreach(dependency ${MESSAGE_DEPENDENCIES})
    find_package(${dependency} REQUIRED)
  endforeach()
  face_anything_fix_wheel_targets()
  rosidl_generate_interfaces(${PROJECT_NAME} ${UPSTREAM_MESSAGES} DEPENDENCIES ${MESSAGE_DEPENDENCIES})
  face_anything_rewrite_include_dirs(${PROJECT_NAME}__rosidl_generator_py BUILD_ONLY_IN_TREE)
  ament_export_dependencies(rosidl_default_runtime)
  ament_package()
endmacro()
