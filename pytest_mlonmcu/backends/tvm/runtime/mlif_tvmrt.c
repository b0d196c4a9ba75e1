/*
 * mlif_tvmrt.c - the measured calls of the tvmrt host runner (rt_runner.py), as a tiny
 * Python extension module "mlif_tvmrt".
 *
 * callgrind counts instructions between entry and exit of one named function. The TVM
 * runtime's own symbols are stripped from the wheel, so the runner calls the Relax VM's
 * functions through the two wrappers below: everything the VM does inside is counted,
 * nothing of Python's. (A ctypes call of the same wrappers is not seen by callgrind's
 * --toggle-collect; an extension module's is.)
 *
 *   mlif_tvmrt.setup(function_handle, (int, ...))      -> vm_initialization(ints...)
 *   mlif_tvmrt.invoke(function_handle, (tensor_handle, ...), sink_handle) -> main(tensors...)
 *
 * Handles are tvm-ffi object handles (``obj.__chandle__()``). invoke passes main's result
 * to the function ``sink`` (after the measured call; 0: none), then releases it, as setup
 * does with its result.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>

#include "tvm/ffi/c_api.h"

#define MAX_ARGS 16

__attribute__((noinline, visibility("default"))) int mlif_tvmrt_setup(TVMFFIObjectHandle func,
                                                                      TVMFFIAny *args,
                                                                      int32_t num_args,
                                                                      TVMFFIAny *result) {
  return TVMFFIFunctionCall(func, args, num_args, result);
}

__attribute__((noinline, visibility("default"))) int mlif_tvmrt_invoke(TVMFFIObjectHandle func,
                                                                       TVMFFIAny *args,
                                                                       int32_t num_args,
                                                                       TVMFFIAny *result) {
  return TVMFFIFunctionCall(func, args, num_args, result);
}

static PyObject *call(PyObject *args, int32_t type_index, int measured_invoke) {
  unsigned long long func;
  unsigned long long sink = 0;
  PyObject *values;
  if (!PyArg_ParseTuple(args, "KO!|K", &func, &PyTuple_Type, &values, &sink)) return NULL;
  Py_ssize_t n = PyTuple_GET_SIZE(values);
  if (n > MAX_ARGS) {
    PyErr_SetString(PyExc_ValueError, "too many arguments");
    return NULL;
  }
  TVMFFIAny any[MAX_ARGS];
  for (Py_ssize_t i = 0; i < n; i++) {
    long long v = PyLong_AsLongLong(PyTuple_GET_ITEM(values, i));
    if (v == -1 && PyErr_Occurred()) return NULL;
    any[i].type_index = type_index;
    any[i].zero_padding = 0;
    any[i].v_int64 = (int64_t)v;
  }
  TVMFFIAny result;
  result.type_index = kTVMFFINone;
  result.zero_padding = 0;
  result.v_int64 = 0;
  TVMFFIObjectHandle f = (TVMFFIObjectHandle)(uintptr_t)func;
  int rc = measured_invoke ? mlif_tvmrt_invoke(f, any, (int32_t)n, &result)
                           : mlif_tvmrt_setup(f, any, (int32_t)n, &result);
  if (rc == 0 && sink != 0) {
    TVMFFIAny ignored;
    ignored.type_index = kTVMFFINone;
    ignored.zero_padding = 0;
    ignored.v_int64 = 0;
    rc = TVMFFIFunctionCall((TVMFFIObjectHandle)(uintptr_t)sink, &result, 1, &ignored);
    if (ignored.type_index >= kTVMFFIStaticObjectBegin && ignored.v_obj != NULL) {
      TVMFFIObjectDecRef(ignored.v_obj);
    }
  }
  if (result.type_index >= kTVMFFIStaticObjectBegin && result.v_obj != NULL) {
    TVMFFIObjectDecRef(result.v_obj);
  }
  if (rc != 0) {
    PyErr_Format(PyExc_RuntimeError, "TVMFFIFunctionCall returned %d", rc);
    return NULL;
  }
  Py_RETURN_NONE;
}

static PyObject *py_setup(PyObject *self, PyObject *args) {
  (void)self;
  return call(args, kTVMFFIInt, 0);
}

static PyObject *py_invoke(PyObject *self, PyObject *args) {
  (void)self;
  return call(args, kTVMFFITensor, 1);
}

static PyMethodDef methods[] = {
    {"setup", py_setup, METH_VARARGS, "call a function with int arguments (measured: setup)"},
    {"invoke", py_invoke, METH_VARARGS, "call a function with tensor arguments (measured: invoke)"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "mlif_tvmrt", NULL, -1, methods,
                                    NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit_mlif_tvmrt(void) { return PyModule_Create(&module); }
