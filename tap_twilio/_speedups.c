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
 * A typed record is a msgspec Struct without GC (typed.py): its fields are object members at fixed offsets, and
 * setting one does nothing but store it. Those are read and written in place; a record of any other kind goes
 * through getattr and setattr.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>
#include <structmember.h> /* T_OBJECT_EX, READONLY */

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

#define MAX_FIELDS 64

/* Where instances of `type` hold field `attr`: the offset of a writable object member, or 0 (use getattr/setattr).
 * -1 on an error. */
static Py_ssize_t slot_of(PyTypeObject *type, PyObject *attr) {
    if (PyType_IS_GC(type) || type->tp_dictoffset != 0) {
        return 0;  /* a GC struct's setattr may start tracking it; an instance dict could shadow the member */
    }
    PyObject *descr = PyObject_GetAttr((PyObject *)type, attr);
    if (descr == NULL) {
        PyErr_Clear();
        return 0;
    }
    Py_ssize_t offset = 0;
    /* a member of this type or one of its bases (a member of another class, put in its namespace, is not) */
    if (Py_IS_TYPE(descr, &PyMemberDescr_Type) && PyType_IsSubtype(type, ((PyDescrObject *)descr)->d_type)) {
        PyMemberDef *member = ((PyMemberDescrObject *)descr)->d_member;
        if (member->type == T_OBJECT_EX && !(member->flags & READONLY) && member->offset > 0) {
            offset = member->offset;
        }
    }
    Py_DECREF(descr);
    return offset;
}

/* The value at `offset` of `record` (a new reference), or getattr's where the field has no offset or is empty. */
static PyObject *get_field(PyObject *record, PyObject *attr, Py_ssize_t offset) {
    if (offset) {
        PyObject *value = *(PyObject **)((char *)record + offset);
        if (value != NULL) {
            Py_INCREF(value);
            return value;
        }
    }
    return PyObject_GetAttr(record, attr);
}

/* Store `value` (a reference handed over, NULL after an error) in field `attr` of `record`; -1 on an error. */
static int set_field(PyObject *record, PyObject *attr, Py_ssize_t offset, PyObject *value) {
    if (value == NULL) {
        return -1;
    }
    if (offset) {
        PyObject **slot = (PyObject **)((char *)record + offset);
        PyObject *old = *slot;
        *slot = value;
        Py_XDECREF(old);
        return 0;
    }
    int failed = PyObject_SetAttr(record, attr, value);
    Py_DECREF(value);
    return failed;
}

/* The offsets of `attrs` (a tuple of names, or of (name, field name) pairs when `pairs`) in instances of `type`
 * (0: none, see slot_of), into `at`; -1 on an error. */
static int slots_of(PyTypeObject *type, PyObject *attrs, int pairs, Py_ssize_t *at) {
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(attrs); i++) {
        PyObject *attr = PyTuple_GET_ITEM(attrs, i);
        if (pairs) {
            if (!PyTuple_CheckExact(attr) || PyTuple_GET_SIZE(attr) != 2) {
                PyErr_SetString(PyExc_TypeError, "numbers: (attribute, field name) pairs");
                return -1;
            }
            attr = PyTuple_GET_ITEM(attr, 0);
        }
        if (!PyUnicode_Check(attr)) {
            PyErr_SetString(PyExc_TypeError, "attribute names are str");
            return -1;
        }
        at[i] = type == NULL ? 0 : slot_of(type, attr);
    }
    return 0;
}

static int convert_dates(PyObject *record, PyObject *dates, const Py_ssize_t *at, PyObject *to_iso) {
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(dates); i++) {
        PyObject *attr = PyTuple_GET_ITEM(dates, i);
        PyObject *value = get_field(record, attr, at[i]);
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
            failed = set_field(record, attr, at[i], iso);
        }
        Py_DECREF(value);
        if (failed) {
            return -1;
        }
    }
    return 0;
}

static int convert_numbers(PyObject *record, PyObject *numbers, const Py_ssize_t *at, PyObject *cache,
                           PyObject *parse) {
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(numbers); i++) {
        PyObject *pair = PyTuple_GET_ITEM(numbers, i);  /* (attribute, field name): checked by slots_of */
        PyObject *attr = PyTuple_GET_ITEM(pair, 0);
        PyObject *value = get_field(record, attr, at[i]);
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
            failed = set_field(record, attr, at[i], number);
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
    if (PyTuple_GET_SIZE(dates) > MAX_FIELDS || PyTuple_GET_SIZE(numbers) > MAX_FIELDS ||
        PyTuple_GET_SIZE(secrets) > MAX_FIELDS) {
        PyErr_SetString(PyExc_ValueError, "more fields of a kind than convert_page takes");
        return NULL;
    }
    /* the fields' offsets in the page's record type (a page's records are of one type; any other record of the
     * list is read and written through getattr and setattr) */
    Py_ssize_t date_at[MAX_FIELDS], number_at[MAX_FIELDS], secret_at[MAX_FIELDS], none[MAX_FIELDS] = {0};
    PyTypeObject *type = PyList_GET_SIZE(records) ? Py_TYPE(PyList_GET_ITEM(records, 0)) : NULL;
    if (slots_of(type, dates, 0, date_at) || slots_of(type, numbers, 1, number_at) ||
        slots_of(type, secrets, 0, secret_at)) {
        return NULL;
    }
    Py_XINCREF(type);  /* compared below while parse and to_iso, which may run any code, are called */
    PyObject *result = Py_None;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(records); i++) {  /* the size is read again: see above */
        PyObject *record = PyList_GET_ITEM(records, i);
        Py_INCREF(record);
        int same = Py_TYPE(record) == type;
        const Py_ssize_t *secrets_at = same ? secret_at : none;
        int failed = convert_dates(record, dates, same ? date_at : none, to_iso) ||
                     convert_numbers(record, numbers, same ? number_at : none, cache, parse);
        for (Py_ssize_t j = 0; !failed && j < PyTuple_GET_SIZE(secrets); j++) {
            Py_INCREF(unset);
            failed = set_field(record, PyTuple_GET_ITEM(secrets, j), secrets_at[j], unset);
        }
        Py_DECREF(record);
        if (failed) {
            result = NULL;
            break;
        }
    }
    Py_XDECREF(type);
    Py_XINCREF(result);
    return result;
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
