/* The typed-page converter of tap_twilio/convert.py in C: the same conversion, without the interpreter's work per
 * field. convert.py uses it when this module was built (hatch_build.py compiles it where a C compiler is found) and
 * falls back to its generated Python otherwise; tests/test_speedups.py holds the two to the same output.
 *
 * convert_page(dates, numbers, secrets, cache, parse, to_iso, unset, records) does, for each record of the list
 * `records`, in this order, what convert.py's generated code does:
 *   - each attribute of `dates` holding a true value: Twilio's fixed form "Fri, 18 Oct 2019 17:00:00 +0000" becomes
 *     "2019-10-18T17:00:00+00:00" here (checked character by character, the day checked to exist); any other value
 *     is replaced by to_iso(value);
 *   - each (attribute, field name) of `numbers` holding a str: cache[value], or parse(name, value) if absent;
 *   - each attribute of `secrets` is set to `unset`.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>

#ifndef SOURCE_HASH
#define SOURCE_HASH "unknown"
#endif

static const char MONTHS[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
/* the fixed form's digits (day, year, hours, minutes, seconds) and its other characters */
static const int DIGITS[] = {5, 6, 12, 13, 14, 15, 17, 18, 20, 21, 23, 24};
static const struct { int at; char c; } FIXED[] = {{3, ','}, {4, ' '}, {7, ' '}, {11, ' '}, {16, ' '},
                                                    {19, ':'}, {22, ':'}, {25, ' '}, {26, '+'}, {27, '0'},
                                                    {28, '0'}, {29, '0'}, {30, '0'}};

static int days_in_month(int year, int month) {
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (month == 2 && year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)) {
        return 29;
    }
    return days[month - 1];
}

/* The ISO form of `value` if it is Twilio's fixed form exactly; NULL if it is not (no error set) or on an error. */
static PyObject *fixed_to_iso(PyObject *value) {
    if (!PyUnicode_CheckExact(value) || PyUnicode_GET_LENGTH(value) != 31 || !PyUnicode_IS_ASCII(value)) {
        return NULL;
    }
    const Py_UCS1 *s = PyUnicode_1BYTE_DATA(value);
    for (size_t i = 0; i < sizeof(FIXED) / sizeof(FIXED[0]); i++) {
        if (s[FIXED[i].at] != FIXED[i].c) {
            return NULL;
        }
    }
    for (size_t i = 0; i < sizeof(DIGITS) / sizeof(DIGITS[0]); i++) {
        if (s[DIGITS[i]] < '0' || s[DIGITS[i]] > '9') {
            return NULL;
        }
    }
    int month = 0;
    for (int i = 0; i < 12; i++) {
        if (memcmp(s + 8, MONTHS[i], 3) == 0) {
            month = i + 1;
            break;
        }
    }
    int day = (s[5] - '0') * 10 + (s[6] - '0');
    int year = (s[12] - '0') * 1000 + (s[13] - '0') * 100 + (s[14] - '0') * 10 + (s[15] - '0');
    if (month == 0 || year == 0 || day == 0 || day > days_in_month(year, month)) {
        return NULL;
    }
    PyObject *iso = PyUnicode_New(25, 127);
    if (iso == NULL) {
        return NULL;
    }
    Py_UCS1 *o = PyUnicode_1BYTE_DATA(iso);
    memcpy(o, s + 12, 4);
    o[4] = '-';
    o[5] = (Py_UCS1)('0' + month / 10);
    o[6] = (Py_UCS1)('0' + month % 10);
    o[7] = '-';
    o[8] = s[5];
    o[9] = s[6];
    o[10] = 'T';
    memcpy(o + 11, s + 17, 8);
    memcpy(o + 19, "+00:00", 6);
    return iso;
}

/* Set `attr` of `record` to `value` and drop the reference to `value`; -1 on an error (value NULL included). */
static int set_new(PyObject *record, PyObject *attr, PyObject *value) {
    if (value == NULL) {
        return -1;
    }
    int failed = PyObject_SetAttr(record, attr, value);
    Py_DECREF(value);
    return failed;
}

static int convert_dates(PyObject *record, PyObject *dates, PyObject *to_iso) {
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(dates); i++) {
        PyObject *attr = PyTuple_GET_ITEM(dates, i);
        PyObject *value = PyObject_GetAttr(record, attr);
        if (value == NULL) {
            return -1;
        }
        int truth = PyObject_IsTrue(value);
        int failed = truth < 0;
        if (truth > 0) {
            PyObject *iso = fixed_to_iso(value);
            if (iso == NULL && !PyErr_Occurred()) {
                iso = PyObject_CallOneArg(to_iso, value);
            }
            failed = set_new(record, attr, iso);
        }
        Py_DECREF(value);
        if (failed) {
            return -1;
        }
    }
    return 0;
}

static int convert_numbers(PyObject *record, PyObject *numbers, PyObject *cache, PyObject *parse) {
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(numbers); i++) {
        PyObject *pair = PyTuple_GET_ITEM(numbers, i);
        if (!PyTuple_CheckExact(pair) || PyTuple_GET_SIZE(pair) != 2) {
            PyErr_SetString(PyExc_TypeError, "numbers: (attribute, field name) pairs");
            return -1;
        }
        PyObject *attr = PyTuple_GET_ITEM(pair, 0);
        PyObject *value = PyObject_GetAttr(record, attr);
        if (value == NULL) {
            return -1;
        }
        int failed = 0;
        if (PyUnicode_CheckExact(value)) {
            PyObject *number = PyDict_GetItemWithError(cache, value);
            if (number != NULL) {
                Py_INCREF(number);
            } else if (!PyErr_Occurred()) {
                PyObject *args[2] = {PyTuple_GET_ITEM(pair, 1), value};
                number = PyObject_Vectorcall(parse, args, 2, NULL);
            }
            failed = set_new(record, attr, number);
        }
        Py_DECREF(value);
        if (failed) {
            return -1;
        }
    }
    return 0;
}

static PyObject *convert_page(PyObject *Py_UNUSED(module), PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 8) {
        PyErr_SetString(PyExc_TypeError,
                        "convert_page(dates, numbers, secrets, cache, parse, to_iso, unset, records)");
        return NULL;
    }
    PyObject *dates = args[0], *numbers = args[1], *secrets = args[2], *cache = args[3];
    PyObject *parse = args[4], *to_iso = args[5], *unset = args[6], *records = args[7];
    if (!PyTuple_CheckExact(dates) || !PyTuple_CheckExact(numbers) || !PyTuple_CheckExact(secrets) ||
        !PyDict_CheckExact(cache) || !PyList_CheckExact(records)) {
        PyErr_SetString(PyExc_TypeError, "dates, numbers and secrets: tuples; cache: a dict; records: a list");
        return NULL;
    }
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(records); i++) {  /* parse and to_iso may run any code: the size */
        PyObject *record = PyList_GET_ITEM(records, i);          /* is read again, the record held meanwhile */
        Py_INCREF(record);
        int failed = convert_dates(record, dates, to_iso) || convert_numbers(record, numbers, cache, parse);
        for (Py_ssize_t j = 0; !failed && j < PyTuple_GET_SIZE(secrets); j++) {
            failed = PyObject_SetAttr(record, PyTuple_GET_ITEM(secrets, j), unset);
        }
        Py_DECREF(record);
        if (failed) {
            return NULL;
        }
    }
    Py_RETURN_NONE;
}

static PyObject *fixed_date(PyObject *Py_UNUSED(module), PyObject *value) {
    PyObject *iso = fixed_to_iso(value);
    if (iso == NULL && !PyErr_Occurred()) {
        Py_RETURN_NONE;
    }
    return iso;
}

static PyMethodDef methods[] = {
    {"convert_page", (PyCFunction)(void (*)(void))convert_page, METH_FASTCALL,
     "Type a page of typed records in place, as convert.py's generated converter of typed pages does."},
    {"fixed_date", fixed_date, METH_O,
     "The ISO form of a date in Twilio's fixed form exactly, else None (to_iso's fast path, for tests)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "tap_twilio._speedups", "convert.py's typed-page converter in C.", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__speedups(void) {
    PyObject *m = PyModule_Create(&module);
    if (m != NULL && PyModule_AddStringConstant(m, "SOURCE_HASH", SOURCE_HASH) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
